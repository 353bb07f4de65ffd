"""Mentions and desktop notifications in Chromium: the composer's autocomplete picks a
member and the message mentions them; a mention arriving while the tab shows another
conversation makes a desktop notification, whose click opens the conversation."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Page, expect

from tests.browser.support import BROWSER_TESTS, OpenTab, group_of_two
from tests.support import Directory, eventually, send

pytestmark = BROWSER_TESTS

# Stands in for the browser's Notification: records each one (the headless browser shows
# none), keeping the real permission and its request.
CAPTURE_NOTIFICATIONS = """
(() => {
  const Real = window.Notification;
  window.__notifications = [];
  class Captured {
    constructor(title, options = {}) {
      this.title = title;
      this.body = options.body;
      this.tag = options.tag;
      this.onclick = null;
      window.__notifications.push(this);
    }
    close() {}
    static get permission() { return Real.permission; }
    static requestPermission() { return Real.requestPermission(); }
  }
  window.Notification = Captured;
})();
"""


async def _capture(page: Page) -> None:
    await page.add_init_script(CAPTURE_NOTIFICATIONS)


async def test_autocomplete_picks_a_member_and_the_message_mentions_them(
    live: Directory, tabs: OpenTab
) -> None:
    alice, bob, group_id = await group_of_two(live, "mentions")
    carol = await live.colleague(alice, "Bobby Outsider")  # not in the group
    tab = await tabs(alice, group_id)
    composer = tab.page.locator("#composer-input")
    await composer.press_sequentially("hi @bo")
    listbox = tab.page.get_by_role("listbox", name="People to mention")
    await expect(listbox).to_be_visible()
    options = listbox.get_by_role("option")
    await expect(options).to_have_text(["Bob"])  # members only
    await expect(composer).to_have_attribute("aria-expanded", "true")
    active = await composer.get_attribute("aria-activedescendant")
    assert active and await tab.page.locator(f"#{active}").text_content() == "Bob"
    await composer.press("Enter")  # picks, does not send
    await expect(listbox).to_be_hidden()
    await expect(composer).to_have_value("hi @Bob ")
    await composer.press_sequentially("look")
    await composer.press("Enter")
    sent = tab.message("hi @Bob look")
    await expect(sent).to_have_count(1)

    async def stored() -> Any:
        # The tab shows it while it is still on its way: wait for the server to have it.
        r = await bob.get(f"/api/v1/conversations/{group_id}/messages")
        found = [m for m in r.json()["messages"] if m["body"] == "hi @Bob look"]
        return found[0] if found else None

    message = await eventually(stored)
    assert message["mentions"] == [bob.id]
    assert carol.id  # named like a member, but never offered

    # Esc closes the list; the arrows move through it.
    await composer.press_sequentially("@")
    await expect(options).to_have_count(3)  # Bob, @channel, @here
    await composer.press("ArrowDown")
    second = await composer.get_attribute("aria-activedescendant")
    assert second and await tab.page.locator(f"#{second}").get_attribute("aria-selected") == "true"
    await composer.press("Escape")
    await expect(listbox).to_be_hidden()


async def test_a_mention_elsewhere_makes_a_desktop_notification(
    live: Directory, tabs: OpenTab
) -> None:
    alice, bob, group_id = await group_of_two(live, "news")
    elsewhere = await live.conversation(alice, "direct", [bob])
    bob_tab = await tabs(bob, elsewhere["id"], before_load=_capture, permissions=["notifications"])
    page = bob_tab.page
    # Nothing before Bob opts in, even with the browser's permission granted.
    await send(alice, group_id, "@Bob before opting in")
    badge = bob_tab.sidebar_item(group_id).locator(".mention-badge")
    await expect(badge).to_have_text("@1")
    assert await page.evaluate("window.__notifications.length") == 0

    await page.locator("#open-account").click()
    desktop = page.get_by_label("Desktop notifications")
    await desktop.check()
    await expect(desktop).to_be_checked()
    await page.locator("#account-dialog [data-close]").click()

    await send(alice, group_id, "plain, not for Bob's level")
    mention = await send(alice, group_id, "@bob the release is out")
    await expect(badge).to_have_text("@2")

    async def notified() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await page.evaluate(
            "window.__notifications.map(n => ({title: n.title, body: n.body, tag: n.tag}))"
        )
        return found

    found = await eventually(notified)
    assert found == [
        {"title": "Acme Admin in news", "body": "@bob the release is out", "tag": mention["id"]}
    ]
    # Its click opens the conversation at the message, which is highlighted as mine.
    await page.evaluate("window.__notifications[0].onclick()")
    await expect(page).to_have_url(f"{bob_tab.page.url.split('#')[0]}#/c/{group_id}")
    highlighted = bob_tab.message("@bob the release is out")
    await expect(highlighted).to_have_class(re.compile(r"\bmentions-me\b"))
    await expect(badge).to_have_count(0)  # read now
