"""The server's terse or technical error sentences said in friendly words (errors.js)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.async_api import expect

from tests.browser.support import BROWSER_TESTS, REPLAY_LIMIT, OpenTab, group_of_two
from tests.support import Directory, ServerProcess

pytestmark = BROWSER_TESTS

MAX_UPLOAD_BYTES = 2048


@pytest.fixture
def server(start_server: Callable[..., ServerProcess]) -> ServerProcess:
    return start_server(ws_replay_limit=str(REPLAY_LIMIT), max_upload_bytes=str(MAX_UPLOAD_BYTES))


async def test_a_file_over_the_limit_says_how_large_files_may_be(
    live: Directory, tabs: OpenTab
) -> None:
    _alice, bob, group_id = await group_of_two(live, "files")
    tab = await tabs(bob, group_id)
    await tab.page.locator("#attach-input").set_input_files(
        {"name": "big.bin", "mimeType": "application/octet-stream", "buffer": b"x" * 200_000}
    )
    staged = tab.page.locator("#staged-files li")
    await expect(staged).to_contain_text("not uploaded: Files can be at most 2 KB.")
    await expect(staged).not_to_contain_text("bytes")


async def test_validation_sentences_become_friendly_words(live: Directory, tabs: OpenTab) -> None:
    alice = await live.company("Acme")
    tab = await tabs(alice)
    said = await tab.page.evaluate(
        """async () => {
          const { friendly, friendlyField } = await import("/errors.js");
          const validation = (field, message) => ({
            code: "validation_error",
            message: `${field}: ${message}`,
            details: { fields: [{ field, message }] },
          });
          return [
            friendly(validation("body", "String should have at least 1 character")),
            friendly({ code: "file_too_large", message: "a file may have at most 26214400 bytes",
                       details: { limit: 26214400 } }),
            friendly({ code: "body_too_long",
                       message: "the message may have at most 10000 characters",
                       details: { field: "body" } }),
            friendlyField("password", "String should have at least 8 characters"),
            friendlyField("email", "Field required"),
            friendly({ code: "some_new_code", message: "the server's own words", details: {} }),
          ];
        }"""
    )
    assert said == [
        "Type a message first.",
        "Files can be at most 25 MB.",
        "Messages can be at most 10,000 characters.",
        "Use at least 8 characters.",
        "Enter your email address.",
        "the server's own words",
    ]
