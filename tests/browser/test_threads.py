"""Threads in the web client, in Chromium against a real `hallway serve`: two people talk
in a thread side panel live, the root's summary counts the replies, which stay out of the
conversation's list; Esc closes the panel; at phone width it takes the whole screen."""

from __future__ import annotations

from playwright.async_api import Locator, expect

from tests.browser.support import BROWSER_TESTS, OpenTab, Tab, group_of_two
from tests.support import Directory

pytestmark = BROWSER_TESTS


def panel_replies(tab: Tab, text: str) -> Locator:
    return tab.page.locator("#thread-replies > li.message").filter(
        has=tab.page.locator(".body").get_by_text(text, exact=True)
    )


async def test_two_people_talk_in_a_thread_panel_live(live: Directory, tabs: OpenTab) -> None:
    alice, bob, group_id = await group_of_two(live, "threads")
    alice_tab = await tabs(alice, group_id)
    bob_tab = await tabs(bob, group_id)

    await alice_tab.type_and_send("shall we ship it?")
    root = bob_tab.message("shall we ship it?")
    await expect(root).to_have_count(1)

    # Bob opens the thread from the message's actions and replies in its own composer.
    await root.hover()
    await root.get_by_role("button", name="Reply in thread").click()
    bob_panel = bob_tab.page.get_by_role("region", name="Thread", exact=True)
    await expect(bob_panel).to_be_visible()
    await expect(bob_panel.locator(".thread-root .body")).to_have_text("shall we ship it?")
    await bob_tab.page.locator("#thread-input").fill("yes, today")
    await bob_tab.page.locator("#thread-input").press("Enter")
    await expect(panel_replies(bob_tab, "yes, today")).to_have_count(1)

    # Alice sees the count on the root, live; the reply is not in the conversation's list.
    summary = alice_tab.message("shall we ship it?").locator(".thread-summary")
    await expect(summary.locator(".reply-count")).to_have_text("1 reply")
    await expect(alice_tab.message("yes, today")).to_have_count(0)
    await summary.click()
    alice_panel = alice_tab.page.get_by_role("region", name="Thread", exact=True)
    await expect(panel_replies(alice_tab, "yes, today")).to_have_count(1)

    # Alice answers in the panel: Bob's panel shows it live, and both count two replies.
    await alice_tab.page.locator("#thread-input").fill("great, I will tag it")
    await alice_tab.page.locator("#thread-input").press("Enter")
    await expect(panel_replies(bob_tab, "great, I will tag it")).to_have_count(1)
    await expect(bob_panel.locator("#thread-count")).to_have_text("2 replies")
    await expect(alice_panel.locator("#thread-count")).to_have_text("2 replies")
    await expect(
        bob_tab.message("shall we ship it?").locator(".thread-summary .reply-count")
    ).to_have_text("2 replies")
    await expect(bob_tab.message("great, I will tag it")).to_have_count(0)

    # Esc closes it.
    await alice_tab.page.locator("#thread-input").press("Escape")
    await expect(alice_panel).to_be_hidden()

    # A reply found by search opens its thread beside the conversation.
    await alice_tab.search_box.fill("tag")
    await alice_tab.search_box.press("Enter")
    await expect(alice_tab.search_results).to_have_count(1)
    await alice_tab.search_results.first.click()
    await expect(alice_panel).to_be_visible()
    await expect(panel_replies(alice_tab, "great, I will tag it")).to_have_count(1)

    # At phone width the panel takes the whole screen.
    await bob_tab.page.set_viewport_size({"width": 400, "height": 700})
    box = await bob_panel.bounding_box()
    assert box is not None and box["width"] == 400 and box["height"] == 700
    assert alice_tab.errors == [] and bob_tab.errors == []
