"""Take the README's screenshots (docs/screenshots/) of the web client's main views.

Run from the repository root: `.venv/bin/python tools/screenshots.py`. It seeds the demo
company (`hallway demo`) into a fresh SQLite database in a temporary directory, serves it
on a free port, and drives Debian's Chromium (/usr/bin/chromium) through Playwright as Ada
and Grace. Nothing of it is kept but the pictures."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from playwright.async_api import Browser, Page, async_playwright, expect

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "hallway-demo"  # hallway.cli.DEMO_PASSWORD
VIEWPORT = {"width": 1200, "height": 760}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def demo_server() -> Iterator[str]:
    """`hallway serve` over a fresh demo company; yields its base URL."""
    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            **os.environ,
            "HALLWAY_DATA_DIR": data_dir,
            "HALLWAY_SECRET_KEY": secrets.token_hex(32),
        }
        hallway = [sys.executable, "-m", "hallway.cli"]
        subprocess.run([*hallway, "migrate"], env=env, check=True, capture_output=True)
        subprocess.run([*hallway, "demo"], env=env, check=True, capture_output=True)
        port = free_port()
        server = subprocess.Popen([*hallway, "serve", "--port", str(port)], env=env)
        base_url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{base_url}/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not start")
                time.sleep(0.2)
            yield base_url
        finally:
            server.terminate()
            server.wait(timeout=10)


async def open_as(browser: Browser, base_url: str, email: str, path: str = "/") -> Page:
    """A tab logged in as `email` (the session the client keeps in sessionStorage)."""
    async with httpx.AsyncClient(base_url=base_url) as http:
        r = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        r.raise_for_status()
        session = r.json()
    context = await browser.new_context(base_url=base_url, viewport=VIEWPORT)  # type: ignore[arg-type]
    await context.add_init_script(
        f"sessionStorage.setItem('hallway.token', {json.dumps(session['access_token'])});"
        f"sessionStorage.setItem('hallway.refresh', {json.dumps(session['refresh_token'])});"
    )
    page = await context.new_page()
    await page.goto(path)
    if path == "/":
        await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    return page


async def open_conversation(page: Page, title: str) -> None:
    await page.locator("#conversation-list a", has_text=title).first.click()
    await expect(page.locator("#history-status")).not_to_have_text("Loading…")


async def shoot(page: Page, name: str) -> None:
    await page.wait_for_timeout(300)  # transitions and fonts settle
    await page.screenshot(path=str(OUTPUT / f"{name}.png"))
    print(f"docs/screenshots/{name}.png")


async def take_screenshots(base_url: str) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        ada = await open_as(browser, base_url, "ada@demo.hallway")
        await open_conversation(ada, "general")
        await shoot(ada, "conversation")

        await ada.locator(".thread-summary").first.click()
        await expect(ada.locator("#thread-panel")).to_be_visible()
        # A reply's buttons (react, edit, delete), as a pointer over it shows them.
        await ada.locator("#thread-replies > li.message").first.hover()
        await shoot(ada, "thread")
        await ada.keyboard.press("Escape")

        await ada.get_by_role("button", name="Account").click()
        await expect(ada.locator("#account-dialog")).to_be_visible()
        await shoot(ada, "account-dialog")
        await ada.keyboard.press("Escape")

        grace = await open_as(browser, base_url, "grace@demo.hallway")
        await open_conversation(grace, "compilers")
        await grace.locator("#composer-input").fill("Thanks @Al")
        await expect(grace.get_by_role("listbox")).to_be_visible()
        await shoot(grace, "mentions")
        await grace.locator("#composer-input").fill("")

        await grace.locator(".composer-emoji").click()
        await expect(grace.locator(".emoji-picker")).to_be_visible()
        await shoot(grace, "emoji-picker")
        await grace.keyboard.press("Escape")

        diagnostics = await open_as(browser, base_url, "alan@demo.hallway", "/diagnostics")
        await expect(diagnostics.locator("body")).to_have_attribute(
            "data-done", "pass", timeout=30_000
        )
        await shoot(diagnostics, "diagnostics")
        await browser.close()


def main() -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with demo_server() as base_url:
        asyncio.run(take_screenshots(base_url))


if __name__ == "__main__":
    main()
