"""The browser tests' fixtures: one Chromium per module, a `hallway serve` per test
with a small replay limit, and tabs opened in contexts of their own."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.browser.support import CHROMIUM, LAUNCH_ARGS, REPLAY_LIMIT, OpenTab, Tab
from tests.support import Person, ServerProcess


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
def server(start_server: Callable[..., ServerProcess]) -> ServerProcess:
    return start_server(ws_replay_limit=str(REPLAY_LIMIT))


@pytest.fixture
async def tabs(browser: Browser, server: ServerProcess) -> AsyncIterator[OpenTab]:
    """Opens tabs, each in its own browser context (its own sessionStorage), granted
    `permissions` (e.g. ["notifications"]). No tab may raise a JavaScript error."""
    contexts = []
    opened: list[Tab] = []

    async def open_tab(
        person: Person | None = None,
        conversation_id: str | None = None,
        *,
        routed: bool = False,
        before_load: Callable[[Page], Awaitable[None]] | None = None,
        permissions: list[str] | None = None,
    ) -> Tab:
        context = await browser.new_context(
            base_url=server.base_url,
            viewport={"width": 1100, "height": 700},
            permissions=permissions or [],
        )
        contexts.append(context)
        if person is not None:
            # Logged in once, as a login would: a reload keeps what the tab has since
            # (renewed tokens, or none after it was logged out).
            await context.add_init_script(
                "if (!sessionStorage.getItem('test.seeded')) {"
                f"sessionStorage.setItem('hallway.token', {json.dumps(person.token)});"
                f"sessionStorage.setItem('hallway.refresh', {json.dumps(person.refresh_token)});"
                "sessionStorage.setItem('test.seeded', '1')}"
            )
        tab = Tab(await context.new_page())
        opened.append(tab)
        if routed:
            await tab.route_socket()
        if before_load is not None:
            await before_load(tab.page)
        await tab.page.goto(f"/#/c/{conversation_id}" if conversation_id else "/")
        if person is not None:
            await expect(tab.connection).to_have_attribute("data-state", "live")
        if conversation_id is not None:
            await expect(tab.page.locator("#history-status")).not_to_have_text("Loading…")
        return tab

    try:
        yield open_tab
    finally:
        for context in contexts:
            await context.close()
    assert [tab.errors for tab in opened if tab.errors] == []
