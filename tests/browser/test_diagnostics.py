"""/diagnostics: every live check passes against a real server, and without a session it
says so and links to logging in."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.support import BROWSER_TESTS, OpenTab
from tests.support import Directory

pytestmark = BROWSER_TESTS

CHECKS = ["api", "token", "socket", "conversation", "resume", "peer", "files"]


async def test_every_check_passes_for_a_signed_in_tab(live: Directory, tabs: OpenTab) -> None:
    alice = await live.company("Acme")
    tab = await tabs(alice)
    page = tab.page
    await page.goto("/diagnostics")
    await expect(page.locator("body")).to_have_attribute("data-done", "pass", timeout=30_000)
    for check in CHECKS:
        row = page.locator(f'.diagnostics-check[data-check="{check}"]')
        await expect(row).to_have_attribute("data-status", "pass")
        assert (await row.locator(".diagnostics-time").text_content() or "").endswith(" ms")
    await expect(page.locator("#diagnostics-summary")).to_have_text("All 7 checks passed.")
    await expect(page.locator('[data-check="resume"] .diagnostics-detail')).to_contain_text(
        "no gap"
    )

    # Run again: the same channel is used, and all pass again.
    await page.get_by_role("button", name="Run again").click()
    await expect(page.locator("body")).to_have_attribute("data-done", "pass", timeout=30_000)


async def test_without_a_session_it_says_so_and_links_to_log_in(tabs: OpenTab) -> None:
    tab = await tabs()
    page = tab.page
    await page.goto("/diagnostics")
    await expect(page.locator("body")).to_have_attribute("data-done", "fail", timeout=15_000)
    await expect(page.locator('[data-check="api"]')).to_have_attribute("data-status", "pass")
    token = page.locator('[data-check="token"]')
    await expect(token).to_have_attribute("data-status", "fail")
    await expect(token).to_contain_text("Not logged in")
    await expect(token.get_by_role("link", name="Log in")).to_have_attribute("href", "./")
    await expect(page.locator('[data-check="socket"]')).to_have_attribute("data-status", "skipped")
