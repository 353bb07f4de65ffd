"""Threads in the web client, in Chromium against a real `hallway serve`: two people talk
in a thread side panel live, the root's summary counts the replies, which stay out of the
conversation's list; Esc closes the panel; at phone width it takes the whole screen. A
reply written offline waits queued and goes once; replies have the conversation's buttons."""

from __future__ import annotations

import re

from playwright.async_api import Dialog, Locator, expect

from tests.browser.support import BROWSER_TESTS, OpenTab, Tab, group_of_two
from tests.support import Directory, Person, send

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


async def open_thread(tab: Tab, root_body: str) -> Locator:
    """Open the thread of a root message from its actions; returns the panel."""
    root = tab.message(root_body)
    await root.hover()
    await root.get_by_role("button", name="Reply in thread").click()
    panel = tab.page.get_by_role("region", name="Thread", exact=True)
    await expect(panel.locator(".thread-root .body")).to_have_text(root_body)
    return panel


async def replies_on_server(person: Person, conversation_id: str, root_id: str) -> list[str]:
    r = await person.get(f"/api/v1/conversations/{conversation_id}/threads/{root_id}/messages")
    assert r.status_code == 200, r.text
    return [m["body"] for m in r.json()["messages"]]


async def test_a_reply_written_offline_waits_queued_then_goes_once(
    live: Directory, tabs: OpenTab
) -> None:
    """A reply goes through the outbox as a message does: while neither the socket nor a
    POST gets through it shows "Queued" (never "Not sent"), and once the socket is back it
    is sent by itself, once, in order with the next one."""
    alice, bob, group_id = await group_of_two(live, "thread queue")
    root = await send(alice, group_id, "the release checklist")
    tab = await tabs(bob, group_id, routed=True)
    await open_thread(tab, "the release checklist")

    await tab.go_offline()
    await expect(tab.connection).to_have_attribute("data-state", "reconnecting")
    thread_input = tab.page.locator("#thread-input")
    for body in ("tests are green", "changelog is done"):
        await thread_input.fill(body)
        await thread_input.press("Enter")
        reply = panel_replies(tab, body)
        await expect(reply).to_have_class(re.compile(r"\bqueued\b"))
        await expect(reply.locator(".delivery")).to_have_text(re.compile("Queued"))
    await expect(tab.page.get_by_text("Not sent")).to_have_count(0)
    assert await replies_on_server(alice, group_id, root["id"]) == []

    await tab.come_back_online()
    await expect(tab.connection).to_have_attribute("data-state", "live", timeout=20_000)
    for body in ("tests are green", "changelog is done"):
        await expect(panel_replies(tab, body)).not_to_have_class(re.compile(r"queued|sending"))
    sent = await replies_on_server(alice, group_id, root["id"])
    assert sent == ["tests are green", "changelog is done"]
    await expect(tab.page.locator("#thread-replies > li.message")).to_have_count(2)
    await expect(tab.message("tests are green")).to_have_count(0)  # not in the conversation
    assert tab.errors == []


async def test_replies_can_be_reacted_to_edited_and_deleted_in_the_panel(
    live: Directory, tabs: OpenTab
) -> None:
    alice, bob, group_id = await group_of_two(live, "thread actions")
    root = await send(alice, group_id, "who takes the demo?")
    await send(bob, group_id, "I cna do it", thread_root_id=root["id"])
    await send(bob, group_id, "oops, wrong thread", thread_root_id=root["id"])
    alice_tab = await tabs(alice, group_id)
    bob_tab = await tabs(bob, group_id)
    alice_panel = await open_thread(alice_tab, "who takes the demo?")
    await open_thread(bob_tab, "who takes the demo?")

    # Alice reacts to Bob's reply; Bob's panel shows it live.
    reply = panel_replies(alice_tab, "I cna do it")
    await reply.hover()
    await expect(reply.get_by_role("button", name="Edit")).to_have_count(0)  # not hers
    await expect(reply.get_by_role("button", name="Reply in thread")).to_have_count(0)
    await expect(reply.get_by_role("button", name="Mark unread")).to_have_count(0)
    await reply.get_by_role("button", name="React").click()
    await reply.get_by_role("button", name="React with 🎉").click()
    await expect(reply.get_by_role("button", name="🎉 1, including you")).to_have_count(1)
    await expect(
        panel_replies(bob_tab, "I cna do it").get_by_role("button", name="🎉 1")
    ).to_have_count(1)

    # Bob edits his reply; Esc in the editor closes the editor, not the panel.
    mine = panel_replies(bob_tab, "I cna do it")
    await mine.hover()
    await mine.get_by_role("button", name="Edit").click()
    editor = bob_tab.page.get_by_role("textbox", name="Edit message")
    await editor.press("Escape")
    await expect(editor).to_have_count(0)
    await expect(bob_tab.page.get_by_role("region", name="Thread", exact=True)).to_be_visible()
    await mine.hover()
    await mine.get_by_role("button", name="Edit").click()
    await editor.fill("I can do it")
    await editor.press("Enter")
    edited = panel_replies(alice_tab, "I can do it")
    await expect(edited.locator(".edited")).to_have_count(1)

    # Alice owns the group: she may delete Bob's stray reply, for both of them.
    async def confirm(dialog: Dialog) -> None:
        await dialog.accept()

    alice_tab.page.once("dialog", confirm)
    stray = panel_replies(alice_tab, "oops, wrong thread")
    await stray.hover()
    await stray.get_by_role("button", name="Delete").click()
    await expect(panel_replies(bob_tab, "This message was deleted.")).to_have_count(1)
    await expect(panel_replies(bob_tab, "oops, wrong thread")).to_have_count(0)
    await expect(alice_panel.locator("#thread-replies > li.message")).to_have_count(2)
    assert alice_tab.errors == [] and bob_tab.errors == []


async def test_the_reply_composer_completes_mentions_and_counts(
    live: Directory, tabs: OpenTab
) -> None:
    alice, bob, group_id = await group_of_two(live, "thread composer")
    await send(alice, group_id, "release notes?")
    alice_tab = await tabs(alice, group_id)
    bob_tab = await tabs(bob, group_id)
    panel = await open_thread(alice_tab, "release notes?")
    await open_thread(bob_tab, "release notes?")
    reply_input = alice_tab.page.locator("#thread-input")

    # `@` offers the conversation's members; Esc closes the list, not the panel.
    await reply_input.fill("@Bo")
    listbox = panel.get_by_role("listbox", name="People to mention")
    await expect(listbox.get_by_role("option")).to_have_text(["Bob"])
    await reply_input.press("Escape")
    await expect(listbox).to_be_hidden()
    await expect(panel).to_be_visible()
    await reply_input.press("Backspace")
    await reply_input.press("o")  # typed again: offered again
    await reply_input.press("Enter")  # picks
    await expect(reply_input).to_have_value("@Bob ")
    await reply_input.press_sequentially("can you write them?")
    await reply_input.press("Enter")
    mentioned = panel_replies(bob_tab, "@Bob can you write them?")
    await expect(mentioned).to_have_class(re.compile(r"\bmentions-me\b"))

    # Past the server's limit the counter says so and Reply is disabled.
    await reply_input.fill("x" * 10_001)
    await expect(panel.locator("#thread-input-count")).to_contain_text("too long to send")
    await expect(panel.get_by_role("button", name="Reply", exact=True)).to_be_disabled()
    assert alice_tab.errors == [] and bob_tab.errors == []
