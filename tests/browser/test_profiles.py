"""Profiles, "seen by", mark unread and channel topics and archiving in the browser."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.support import BROWSER_TESTS, OpenTab, group_of_two
from tests.files_support import png_bytes
from tests.support import Directory, eventually, send

pytestmark = BROWSER_TESTS


async def test_seen_by_appears_live_when_the_other_person_reads(
    live: Directory, tabs: OpenTab
) -> None:
    alice, bob, group_id = await group_of_two(live, "plans")
    alice_tab = await tabs(alice, group_id)
    seen = alice_tab.page.locator("#seen-by")
    await alice_tab.type_and_send("did you see this?")
    await expect(alice_tab.message("did you see this?")).to_have_count(1)
    await expect(seen).to_be_hidden()

    # Bob opens the group: his tab reads the message, and Alice sees it live.
    await tabs(bob, group_id)
    await expect(seen).to_have_text("Seen by Bob")

    # Bob's open tab reads a newer message at once: the line follows the newest message.
    await alice_tab.type_and_send("and this?")
    await expect(alice_tab.message("and this?")).to_have_count(1)
    await expect(seen).to_have_text("Seen by Bob")


async def test_mark_unread_brings_the_badge_back(live: Directory, tabs: OpenTab) -> None:
    alice, bob, group_id = await group_of_two(live, "plans")
    await send(alice, group_id, "first")
    await send(alice, group_id, "second")
    other = await live.conversation(alice, "direct", [bob])
    bob_tab = await tabs(bob, group_id)
    item = bob_tab.sidebar_item(group_id)
    await expect(item.locator(".badge")).to_have_count(0)

    async def read_on_server() -> bool:
        r = await bob.get(f"/api/v1/conversations/{group_id}")
        return bool(r.json()["last_read_seq"] >= 3)

    # The tab's own receipt for opening the group lands first: a person's click is never
    # quicker than it, and a receipt landing after the marker went back would read it all.
    await eventually(read_on_server)
    message = bob_tab.message("first")
    await message.click()
    await message.get_by_role("button", name="Mark unread").click()
    await expect(item.locator(".badge")).to_have_text("2")
    # Another conversation, then back: opening it reads it again.
    await bob_tab.page.goto(f"/#/c/{other['id']}")
    await expect(item.locator(".badge")).to_have_text("2")
    await bob_tab.page.goto(f"/#/c/{group_id}")
    await expect(item.locator(".badge")).to_have_count(0)
    await eventually(read_on_server)


async def test_a_channel_topic_and_archiving(live: Directory, tabs: OpenTab) -> None:
    alice = await live.company("Acme")
    bob = await live.colleague(alice, "Bob")
    channel = await live.conversation(alice, "channel", [bob], "launch")
    alice_tab = await tabs(alice, channel["id"])
    bob_tab = await tabs(bob, channel["id"])

    # Any member edits the topic; the other sees it live. Markup stays text.
    await bob_tab.page.get_by_role("button", name="Topic").click()
    await bob_tab.page.locator("#topic-input").fill("<b>ship</b> on Friday")
    await bob_tab.page.locator("#topic-form").get_by_role("button", name="Save").click()
    await expect(alice_tab.page.locator("#conversation-topic")).to_have_text(
        "<b>ship</b> on Friday"
    )
    # Bob did not create the channel: no Archive for him.
    await expect(bob_tab.page.locator("#archive-channel")).to_be_hidden()

    # Bob has a thread open: its composer is locked with the channel's.
    await send(alice, channel["id"], "the launch plan")
    root = bob_tab.message("the launch plan")
    await root.hover()
    await root.get_by_role("button", name="Reply in thread").click()
    await expect(bob_tab.page.locator("#thread-input")).to_be_enabled()

    alice_tab.page.once("dialog", lambda dialog: dialog.accept())
    await alice_tab.page.locator("#archive-channel").click()
    await expect(alice_tab.page.locator("#archive-channel")).to_have_text("Unarchive")
    await expect(bob_tab.page.locator("#thread-input")).to_be_disabled()
    for tab in (alice_tab, bob_tab):
        await expect(tab.page.locator("#archived-note")).to_be_visible()
        await expect(tab.page.locator("#composer-input")).to_be_disabled()
        archived = tab.page.locator(f'#archived-list a[data-id="{channel["id"]}"]')
        await expect(archived).to_have_count(1)
        await expect(tab.sidebar_item(channel["id"])).to_have_count(0)

    await alice_tab.page.locator("#archive-channel").click()
    await expect(bob_tab.page.locator("#composer-input")).to_be_enabled()
    await expect(bob_tab.page.locator("#thread-input")).to_be_enabled()
    await bob_tab.type_and_send("back in business")
    await expect(alice_tab.message("back in business")).to_have_count(1)


async def test_an_avatar_and_status_from_the_profile_editor_show_to_others(
    live: Directory, tabs: OpenTab
) -> None:
    alice, bob, group_id = await group_of_two(live, "plans")
    direct = await live.conversation(alice, "direct", [bob])
    await send(alice, group_id, "before the picture")
    alice_tab = await tabs(alice, group_id)
    bob_tab = await tabs(bob, group_id)
    sender = bob_tab.message("before the picture").locator(".avatar")
    await expect(sender).to_have_text("AA")  # initials until there is a picture

    page = alice_tab.page
    await page.locator("#open-account").click()
    await page.locator("#profile-avatar-input").set_input_files(
        {"name": "me.png", "mimeType": "image/png", "buffer": png_bytes(300, 200, "orange")}
    )
    await expect(page.locator("#profile-done")).to_have_text("Picture saved.")
    await page.locator("#profile-status-emoji").fill("🌴")
    await page.locator("#profile-status-text").fill("On holiday")
    await page.locator("#profile-time-zone").select_option("Europe/Paris")
    await page.get_by_role("button", name="Save profile").click()
    await expect(page.locator("#profile-done")).to_have_text("Profile saved.")
    await page.locator("#account-dialog").get_by_role("button", name="Close").click()

    # Bob's tab learns it live: the message now shows the picture, loaded.
    picture = bob_tab.message("before the picture").locator("img.avatar")
    await expect(picture).to_have_count(1)
    assert await picture.evaluate("img => img.complete && img.naturalWidth > 0")
    await alice_tab.type_and_send("after the picture")
    await expect(bob_tab.message("after the picture").locator("img.avatar")).to_have_count(1)

    # The direct conversation's sidebar item shows her picture, her presence on its corner.
    item = bob_tab.sidebar_item(direct["id"])
    await expect(item.locator(".peer img.avatar")).to_have_count(1)
    await expect(item.locator(".peer .presence")).to_have_count(1)

    # The direct conversation's header says her status and local time.
    await bob_tab.page.goto(f"/#/c/{direct['id']}")
    await expect(bob_tab.page.locator("#conversation-subtitle")).to_contain_text("🌴 On holiday")
    await expect(bob_tab.page.locator("#conversation-subtitle")).to_contain_text("local time")


async def test_an_idle_tab_shows_its_person_away_until_input(
    live: Directory, tabs: OpenTab
) -> None:
    alice, bob, _ = await group_of_two(live, "plans")
    direct = await live.conversation(alice, "direct", [bob])

    async def idle_soon(page: Page) -> None:
        # Two seconds without input instead of ten minutes.
        await page.add_init_script("localStorage.setItem('hallway.awayAfterMinutes', '0.033')")

    bob_tab = await tabs(bob, direct["id"])
    subtitle = bob_tab.page.locator("#conversation-subtitle")
    alice_tab = await tabs(alice, direct["id"], before_load=idle_soon)
    await expect(subtitle).to_contain_text("Online")
    await expect(subtitle).to_contain_text("Away", timeout=10_000)
    await expect(subtitle).to_have_attribute("data-presence", "away")

    await alice_tab.page.mouse.move(200, 200)
    await alice_tab.page.mouse.move(300, 250)
    await expect(subtitle).to_contain_text("Online")
