"""The sidebar in sections: channels apart from direct messages and groups, unread ones in
bold, and a hook per item for more badges."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.support import BROWSER_TESTS, OpenTab
from tests.support import Directory, send

pytestmark = BROWSER_TESTS


async def test_channels_and_direct_messages_are_apart_and_unread_ones_bold(
    live: Directory, tabs: OpenTab
) -> None:
    alice = await live.company("Acme")
    bob = await live.colleague(alice, "Bob")
    channel = await live.conversation(alice, "channel", [bob], "general")
    group = await live.conversation(alice, "group", [bob], "lunch")
    direct = await live.conversation(alice, "direct", [bob])
    tab = await tabs(bob)
    page = tab.page

    channels = page.get_by_role("region", name="Channels")
    directs = page.get_by_role("region", name="Direct messages")
    await expect(channels.locator(f'a[data-id="{channel["id"]}"]')).to_have_count(1)
    await expect(directs.locator(f'a[data-id="{group["id"]}"]')).to_have_count(1)
    await expect(directs.locator(f'a[data-id="{direct["id"]}"]')).to_have_count(1)
    await expect(channels.locator("li.conversation-item")).to_have_count(1)

    await send(alice, str(direct["id"]), "hello Bob")
    item = page.locator(f'li.conversation-item[data-conversation-id="{direct["id"]}"]')
    await expect(item).to_have_attribute("data-unread", "1")
    await expect(item.locator("a")).to_have_class("unread")
    await expect(item.locator(".item-badges .badge")).to_have_text("1")
    weight = await item.locator(".name").evaluate("(e) => getComputedStyle(e).fontWeight")
    assert int(weight) >= 700
    read = page.locator(f'li.conversation-item[data-conversation-id="{channel["id"]}"] .name')
    assert int(await read.evaluate("(e) => getComputedStyle(e).fontWeight")) < 700

    # Opening it reads it: no longer bold.
    await tab.sidebar_item(str(direct["id"])).click()
    await expect(item).to_have_attribute("data-unread", "0")
    await expect(item.locator("a")).not_to_have_class("unread")
