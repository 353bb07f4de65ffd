"""The composer's length counter near the limit, and long messages folded in the list."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.browser.support import BROWSER_TESTS, OpenTab, group_of_two
from tests.support import Directory, eventually, send

pytestmark = BROWSER_TESTS


async def test_the_counter_shows_near_the_limit_and_stops_sending_past_it(
    live: Directory, tabs: OpenTab
) -> None:
    _alice, bob, group_id = await group_of_two(live, "long")
    tab = await tabs(bob, group_id)
    page = tab.page
    composer = page.locator("#composer-input")
    counter = page.locator("#composer-count")
    send_button = page.locator("#composer button[type=submit]")

    await composer.fill("a" * 8_999)
    await expect(counter).to_be_hidden()
    await composer.fill("a" * 9_500)
    await expect(counter).to_have_text("9,500 / 10,000")
    await expect(counter).to_have_attribute("aria-live", "polite")
    await expect(send_button).to_be_enabled()

    await composer.fill("a" * 10_001)
    await expect(counter).to_have_text(re.compile(r"^10,001 / 10,000"))
    await expect(counter).to_have_class(re.compile(r"\bover\b"))
    color = await counter.evaluate("(e) => getComputedStyle(e).color")
    assert color.startswith("rgb(") and int(color[4:].split(",")[0]) > 150  # red
    await expect(send_button).to_be_disabled()
    await composer.press("Enter")
    await expect(tab.messages).to_have_count(0)

    # Emoji count as one character each, as the server counts.
    await composer.fill("😀" * 9_999 + "a")
    await expect(counter).to_have_text("10,000 / 10,000")
    await expect(send_button).to_be_enabled()


async def test_long_messages_fold_with_show_more(live: Directory, tabs: OpenTab) -> None:
    alice, bob, group_id = await group_of_two(live, "fold")
    tab = await tabs(bob, group_id)
    long_body = "\n".join(f"line {n}" for n in range(40))
    await send(alice, group_id, long_body)
    await send(alice, group_id, "short")
    message = tab.messages.first
    body = message.locator(".body")
    await expect(body).to_have_class(re.compile(r"\bfolded\b"))
    button = message.get_by_role("button", name="Show more")
    await expect(button).to_have_attribute("aria-expanded", "false")
    folded_height = await body.evaluate("(e) => e.clientHeight")
    await button.click()
    await expect(body).not_to_have_class(re.compile(r"\bfolded\b"))

    async def unfolded() -> bool:
        return bool(await body.evaluate("(e) => e.clientHeight") > folded_height)

    await eventually(unfolded)
    await expect(message.get_by_role("button", name="Show less")).to_have_attribute(
        "aria-expanded", "true"
    )
    await message.get_by_role("button", name="Show less").click()
    await expect(body).to_have_class(re.compile(r"\bfolded\b"))
    await expect(tab.message("short").get_by_role("button", name="Show more")).to_have_count(0)
