"""What draws the messages on screen again: a change of what they show of people (a name),
not a colleague's status nor the people reloaded at a reconnect. Drawing a message again
makes its images load again."""

from __future__ import annotations

import io

from PIL import Image
from playwright.async_api import expect

from tests.browser.support import BROWSER_TESTS, OpenTab, direct_of_two
from tests.support import Directory, send

pytestmark = BROWSER_TESTS

PROFILE = "/api/v1/me/profile"
MARK = "(img) => { img.dataset.drawn = 'first'; }"
MARKED = "(img) => img.dataset.drawn === 'first'"


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (200, 300), (200, 120, 40)).save(out, format="PNG")
    return out.getvalue()


async def test_only_a_change_the_messages_show_draws_them_again(
    live: Directory, tabs: OpenTab
) -> None:
    alice, bob, direct_id = await direct_of_two(live)
    r = await alice.post(
        f"/api/v1/conversations/{direct_id}/attachments",
        files={"file": ("photo.png", png(), "image/png")},
    )
    assert r.status_code == 201, r.text
    await send(alice, direct_id, "look at this", attachment_ids=[r.json()["id"]])
    tab = await tabs(bob, direct_id, routed=True)
    image = tab.message("look at this").get_by_role("img", name="photo.png")
    await expect(image).to_have_js_property("complete", True)
    await image.evaluate(MARK)
    header = tab.page.locator("#conversation-subtitle")

    # A status shows in the header, not on messages: they stay as drawn.
    r = await alice.patch(PROFILE, json={"status_text": "Back at two"})
    assert r.status_code == 200, r.text
    await expect(header).to_contain_text("Back at two")
    assert await image.evaluate(MARKED)

    # A reconnect reloads the people; with nothing the messages show changed, the same.
    tab.holding = {"user.updated"}
    r = await alice.patch(PROFILE, json={"status_text": "Out until three"})
    assert r.status_code == 200, r.text
    await tab.cut()
    await expect(header).to_contain_text("Out until three")
    assert await image.evaluate(MARKED)
    tab.release()

    # A new name is on the message: it is drawn again.
    r = await alice.patch(PROFILE, json={"display_name": "Alicia"})
    assert r.status_code == 200, r.text
    await expect(tab.message("look at this").locator(".sender")).to_have_text("Alicia")
    await expect(image).to_have_js_property("complete", True)
    assert not await image.evaluate(MARKED)
