""" "Do not disturb" on a colleague in the browser: shown live when they set it, gone when
it ends, without a reload."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.async_api import expect

from tests.browser.support import BROWSER_TESTS, OpenTab, direct_of_two
from tests.support import Directory, Person

pytestmark = BROWSER_TESTS


async def _do_not_disturb_for(person: Person, delta: timedelta) -> None:
    until = datetime.now(UTC) + delta
    r = await person.patch("/api/v1/me/notifications", json={"dnd_until": until.isoformat()})
    assert r.status_code == 200, r.text


async def test_a_colleague_s_do_not_disturb_shows_live_and_ends_on_time(
    live: Directory, tabs: OpenTab
) -> None:
    alice, bob, direct_id = await direct_of_two(live)
    tab = await tabs(alice, direct_id)
    dot = tab.sidebar_item(direct_id).locator(".peer .presence")
    subtitle = tab.page.locator("#conversation-subtitle")
    await expect(dot).not_to_have_class("dnd")
    await expect(subtitle).not_to_contain_text("Do not disturb")

    # Bob sets it: Alice's open tab shows it at once (`user.updated`).
    await _do_not_disturb_for(bob, timedelta(hours=1))
    await expect(dot).to_have_class("presence offline dnd")
    await expect(dot).to_have_attribute("aria-label", "offline, do not disturb")
    await expect(subtitle).to_contain_text("Do not disturb until")

    # Nothing is announced when it ends: the tab's own timer takes it away.
    await _do_not_disturb_for(bob, timedelta(seconds=2))
    await expect(dot).to_have_class("presence offline")
    await expect(subtitle).not_to_contain_text("Do not disturb")
