"""The outbox: messages written while neither the socket nor HTTP gets through wait as
queued (never "Not sent"), then go by themselves, once each and in order."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.async_api import expect

from tests.browser.support import (
    BROWSER_TESTS,
    REPLAY_LIMIT,
    OpenTab,
    bodies_on_server,
    group_of_two,
)
from tests.support import Directory, ServerProcess

pytestmark = BROWSER_TESTS

# Short, so that the server refuses a message the composer lets through.
MAX_BODY_CHARS = 40


@pytest.fixture
def server(start_server: Callable[..., ServerProcess]) -> ServerProcess:
    return start_server(ws_replay_limit=str(REPLAY_LIMIT), max_body_chars=str(MAX_BODY_CHARS))


async def test_messages_written_offline_are_queued_then_sent_once_in_order(
    live: Directory, tabs: OpenTab
) -> None:
    alice, bob, group_id = await group_of_two(live, "queue")
    watcher = await tabs(alice, group_id)
    tab = await tabs(bob, group_id, routed=True)
    posts = await tab.go_offline()
    await expect(tab.connection).to_have_attribute("data-state", "reconnecting")

    await tab.type_and_send("first while away")
    await tab.type_and_send("second while away")
    for body in ("first while away", "second while away"):
        await expect(tab.message(body)).to_have_class(re.compile(r"\bqueued\b"))
        await expect(tab.message(body).locator(".delivery")).to_have_text(re.compile("Queued"))
    await expect(tab.page.get_by_text("Not sent")).to_have_count(0)
    assert posts  # HTTP was tried, and failed
    assert await bodies_on_server(alice, group_id) == []

    # The connection comes back: both go by themselves, once each, in order.
    await tab.come_back_online()
    await expect(tab.connection).to_have_attribute("data-state", "live", timeout=20_000)
    for body in ("first while away", "second while away"):
        await expect(tab.message(body)).not_to_have_class(re.compile(r"\b(queued|sending)\b"))
    assert await bodies_on_server(alice, group_id) == ["first while away", "second while away"]
    await expect(watcher.messages).to_have_count(2)
    bodies = await watcher.page.locator("#message-list .body").all_inner_texts()
    assert [body.strip() for body in bodies] == ["first while away", "second while away"]
    await expect(tab.messages).to_have_count(2)


async def test_a_queued_message_survives_a_reload_of_the_tab(
    live: Directory, tabs: OpenTab
) -> None:
    """What is on its way is kept in the tab's sessionStorage: reloaded while offline, the
    tab shows it queued again and sends it once the connection is back."""
    alice, bob, group_id = await group_of_two(live, "reload")
    watcher = await tabs(alice, group_id)
    tab = await tabs(bob, group_id, routed=True)
    await tab.go_offline()
    await expect(tab.connection).to_have_attribute("data-state", "reconnecting")
    await tab.type_and_send("written before the reload")
    await expect(tab.message("written before the reload")).to_have_class(re.compile(r"\bqueued\b"))

    await tab.page.reload()
    await expect(tab.message("written before the reload")).to_have_class(re.compile(r"\bqueued\b"))
    assert await bodies_on_server(alice, group_id) == []

    await tab.come_back_online()
    await expect(tab.connection).to_have_attribute("data-state", "live", timeout=20_000)
    await expect(tab.message("written before the reload")).not_to_have_class(
        re.compile(r"\b(queued|sending)\b")
    )
    assert await bodies_on_server(alice, group_id) == ["written before the reload"]
    await expect(watcher.message("written before the reload")).to_have_count(1)
    # Sent: a later reload finds nothing kept.
    await tab.page.reload()
    await expect(tab.message("written before the reload")).to_have_count(1)
    await expect(tab.messages.filter(has_text="Queued")).to_have_count(0)
    assert await bodies_on_server(alice, group_id) == ["written before the reload"]


async def test_a_refused_message_says_not_sent_with_retry(live: Directory, tabs: OpenTab) -> None:
    """A refusal (here: longer than this server takes) is not an outage: "Not sent", at
    once, over the socket and over HTTP alike."""
    _alice, bob, group_id = await group_of_two(live, "refusal")
    tab = await tabs(bob, group_id)
    await tab.type_and_send("x" * (MAX_BODY_CHARS + 1))
    refused = tab.messages.filter(has_text="Not sent")
    await expect(refused).to_have_count(1)
    await expect(refused.get_by_role("button", name="Retry")).to_be_visible()
    await expect(refused).to_contain_text(f"Messages can be at most {MAX_BODY_CHARS} characters.")

    # Over HTTP (no socket): the 422 is a refusal too.
    tab2 = await tabs(bob, group_id, routed=True)
    tab2.refusing = True
    await tab2.cut()
    await tab2.type_and_send("y" * (MAX_BODY_CHARS + 1))
    await expect(tab2.messages.filter(has_text="Not sent")).to_have_count(1)
