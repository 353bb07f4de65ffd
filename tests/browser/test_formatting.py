"""Formatted messages in the web client: the server's body_html shows as formatting, a
hostile body stays text (no script runs, no dialog opens), and a message not yet confirmed
shows its plain body until the server's copy arrives."""

from __future__ import annotations

import re

from playwright.async_api import Dialog, Locator, expect

from tests.browser.support import BROWSER_TESTS, OpenTab, Tab, group_of_two
from tests.support import Directory

pytestmark = BROWSER_TESTS

HOSTILE = (
    '<img src=x onerror="window.pwned = 1; alert(1)"> '
    "<script>window.pwned = 2</script> "
    "[click](javascript:window.pwned=3) "
    '<svg onload="window.pwned = 4"></svg> '
    '<a href="javascript:window.pwned=5">a</a> '
    "[data](data:text/html,<script>window.pwned=6</script>)"
)


def body_of(tab: Tab, containing: str) -> Locator:
    return tab.messages.filter(has_text=containing).locator(".body")


async def test_formatting_shows_and_hostile_bodies_stay_text(
    live: Directory, tabs: OpenTab
) -> None:
    alice, bob, group_id = await group_of_two(live, "formatting")
    alice_tab = await tabs(alice, group_id)
    bob_tab = await tabs(bob, group_id)
    dialogs: list[str] = []

    async def dismissed(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    for tab in (alice_tab, bob_tab):
        tab.page.on("dialog", dismissed)

    await alice_tab.type_and_send("**bold** and https://example.com")
    for tab in (alice_tab, bob_tab):
        body = body_of(tab, "and https://example.com")
        await expect(body.locator("strong")).to_have_text("bold")
        link = body.locator("a")
        await expect(link).to_have_attribute("href", "https://example.com")
        await expect(link).to_have_attribute("rel", "noopener noreferrer")
        await expect(link).to_have_attribute("target", "_blank")

    await alice_tab.type_and_send(HOSTILE)
    for tab in (alice_tab, bob_tab):
        body = body_of(tab, "window.pwned = 2")
        # Shown as the text that was written, none of it as markup.
        await expect(body).to_contain_text('<img src=x onerror="window.pwned = 1; alert(1)">')
        await expect(body).to_contain_text("[click](javascript:window.pwned=3)")
        assert await body.locator("img, script, svg, iframe").count() == 0
        assert await body.locator("a").count() == 0
        assert await tab.page.evaluate("typeof window.pwned") == "undefined"
    # A new tab draws the same messages from history.
    again = await tabs(bob, group_id)
    again.page.on("dialog", dismissed)
    await expect(body_of(again, "window.pwned = 2")).to_have_count(1)
    await expect(body_of(again, "and https://example.com").locator("strong")).to_have_text("bold")
    assert await again.page.evaluate("typeof window.pwned") == "undefined"
    assert dialogs == []


async def test_a_message_being_sent_shows_its_plain_body_until_confirmed(
    live: Directory, tabs: OpenTab
) -> None:
    _alice, bob, group_id = await group_of_two(live, "pending")
    tab = await tabs(bob, group_id, routed=True)
    tab.holding = {"sent", "event"}
    await tab.type_and_send("**soon** bold")
    pending = tab.messages.filter(has_text="**soon** bold")
    await expect(pending).to_have_class(re.compile(r"\bsending\b"))
    await expect(pending.locator(".body")).to_have_text("**soon** bold")
    assert await pending.locator(".body strong").count() == 0
    tab.release()
    confirmed = tab.messages.filter(has=tab.page.locator(".body strong", has_text="soon"))
    await expect(confirmed).to_have_count(1)
    await expect(confirmed).not_to_have_class(re.compile(r"\bsending\b"))
    await expect(tab.messages).to_have_count(1)
