"""A thumbnail loading after its message is shown keeps a list scrolled to the bottom there."""

from __future__ import annotations

import asyncio
import io

from PIL import Image
from playwright.async_api import Route, expect

from tests.browser.support import BROWSER_TESTS, OpenTab, group_of_two
from tests.support import Directory, eventually, send

pytestmark = BROWSER_TESTS

AT_BOTTOM = "(box) => box.scrollHeight - box.scrollTop - box.clientHeight < 2"


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (40, 120, 200)).save(out, format="PNG")
    return out.getvalue()


async def test_the_newest_message_stays_in_view_when_its_image_loads(
    live: Directory, tabs: OpenTab
) -> None:
    alice, bob, group_id = await group_of_two(live, "pictures")
    for n in range(25):
        await send(alice, group_id, f"filler {n}")
    tab = await tabs(bob, group_id)
    page = tab.page
    scroller = page.locator("#messages")
    assert await scroller.evaluate(AT_BOTTOM)

    # Images wait until the test lets them through.
    release = asyncio.Event()
    held: list[Route] = []

    async def hold_images(route: Route) -> None:
        if route.request.resource_type != "image":
            await route.continue_()
            return
        held.append(route)
        await release.wait()
        await route.continue_()

    await page.route("**/*", hold_images)

    r = await alice.post(
        f"/api/v1/conversations/{group_id}/attachments",
        files={"file": ("tall.png", png(200, 400), "image/png")},
    )
    assert r.status_code == 201, r.text
    await send(alice, group_id, "look at this", attachment_ids=[r.json()["id"]])
    await send(alice, group_id, "newest")
    await expect(tab.message("newest")).to_have_count(1)
    await eventually(lambda: held)
    assert await scroller.evaluate(AT_BOTTOM)

    release.set()
    image = tab.message("look at this").get_by_role("img", name="tall.png")
    await expect(image).to_have_js_property("complete", True)
    assert await image.evaluate("(img) => img.clientHeight") > 50
    await eventually(lambda: scroller.evaluate(AT_BOTTOM))
    await expect(tab.message("newest")).to_be_in_viewport()
