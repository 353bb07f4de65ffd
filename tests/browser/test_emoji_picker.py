"""The full emoji picker: a reaction from it, inserting into the composer, search by name,
the grid moved through with the keyboard, and Escape giving focus back."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.support import BROWSER_TESTS, OpenTab, group_of_two
from tests.support import Directory, send

pytestmark = BROWSER_TESTS

ACTIVE_CELL = """() => {
  const cells = [...document.querySelectorAll('#emoji-grid button[data-emoji]')];
  return cells.indexOf(document.activeElement);
}"""


async def active_cell(page: Page) -> int:
    index: int = await page.evaluate(ACTIVE_CELL)
    return index


async def test_reacting_with_any_emoji_from_the_picker(live: Directory, tabs: OpenTab) -> None:
    alice, bob, group_id = await group_of_two(live, "emoji")
    await send(alice, group_id, "we launched")
    tab = await tabs(bob, group_id)
    page = tab.page
    message = tab.message("we launched")
    await message.hover()
    await message.get_by_role("button", name="React").click()
    await message.get_by_role("button", name="More emoji").click()

    picker = page.get_by_role("dialog", name="Pick an emoji")
    await expect(picker).to_be_visible()
    search = picker.get_by_role("searchbox", name="Search emoji")
    await expect(search).to_be_focused()
    await search.fill("rocket")
    await expect(picker.get_by_role("button", name="rocket", exact=True)).to_be_visible()
    await search.press("ArrowDown")
    await expect(picker.get_by_role("button", name="rocket", exact=True)).to_be_focused()
    await page.keyboard.press("Enter")

    await expect(picker).to_be_hidden()
    await expect(message.get_by_role("button", name="🚀 1, including you")).to_be_visible()
    await expect(message.get_by_role("button", name="React")).to_be_focused()
    alice_sees = await tabs(alice, group_id)
    await expect(alice_sees.message("we launched").get_by_text("🚀 1")).to_be_visible()


async def test_the_grid_moves_with_arrows_and_escape_gives_focus_back(
    live: Directory, tabs: OpenTab
) -> None:
    _alice, bob, group_id = await group_of_two(live, "keys")
    tab = await tabs(bob, group_id)
    page = tab.page
    opener = page.get_by_role("button", name="Insert an emoji")
    await opener.click()
    picker = page.get_by_role("dialog", name="Pick an emoji")
    await expect(picker).to_be_visible()

    await page.keyboard.press("ArrowDown")
    assert await active_cell(page) == 0
    await page.keyboard.press("ArrowRight")
    assert await active_cell(page) == 1
    await page.keyboard.press("ArrowDown")
    assert await active_cell(page) == 9  # the same column of the next row (rows of 8)
    await page.keyboard.press("Home")
    assert await active_cell(page) == 8
    await page.keyboard.press("End")
    assert await active_cell(page) == 15
    await page.keyboard.press("ArrowUp")
    assert await active_cell(page) == 7
    await page.keyboard.press("Control+End")
    last = await page.evaluate("document.querySelectorAll('#emoji-grid button').length - 1")
    assert await active_cell(page) == last
    # One tab stop in the grid: only the focused cell is in the tab order.
    assert await page.locator('#emoji-grid button[tabindex="0"]').count() == 1

    await page.keyboard.press("Escape")
    await expect(picker).to_be_hidden()
    await expect(opener).to_be_focused()

    # Search by name, Enter takes the first match into the composer at the caret.
    await page.locator("#composer-input").fill("ship it ")
    await opener.click()
    await picker.get_by_role("searchbox").fill("party popper")
    await expect(picker.locator("#emoji-grid button")).to_have_count(1)
    await page.keyboard.press("Enter")
    await expect(page.locator("#composer-input")).to_have_value("ship it 🎉")
    await expect(page.locator("#composer-input")).to_be_focused()

    await opener.click()
    await picker.get_by_role("searchbox").fill("no such emoji at all")
    await expect(picker.get_by_role("status")).to_have_text("No emoji match.")
