"""What the browser tests share: Chromium's launch, a tab with its locators and its
routed socket, and small scenes (a group of two)."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Locator, Page, Route, WebSocketRoute

from tests.support import Directory, Person

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

BROWSER_TESTS = [
    pytest.mark.anyio,
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Chromium is not installed at /usr/bin/chromium (CI installs it in .ci/run)",
    ),
]


MESSAGE_POSTS = re.compile(r"/api/v1/conversations/[^/]+/messages$")


class Tab:
    """One person's tab on the client. With `routed`, its WebSocket goes through the test,
    which can hold back the server's frames and cut the connection."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.sockets: list[WebSocketRoute] = []
        self.holding: set[str] = set()  # types of the server's frames held back
        self.held: list[tuple[WebSocketRoute, str | bytes]] = []
        self.refusing = False  # new connections are closed before they reach the server
        self.frame_types: list[str] = []  # of every frame the server sent (routed tabs)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    async def route_socket(self) -> None:
        await self.page.route_web_socket(re.compile(r"/api/v1/realtime$"), self._proxy)

    async def _proxy(self, socket: WebSocketRoute) -> None:
        if self.refusing:
            await socket.close(code=1013, reason="refused by the test")
            return
        server = socket.connect_to_server()

        def from_server(frame: str | bytes) -> None:
            kind = json.loads(frame)["type"]
            self.frame_types.append(kind)
            if kind in self.holding:
                self.held.append((socket, frame))
            else:
                socket.send(frame)

        server.on_message(from_server)
        self.sockets.append(socket)

    def release(self) -> None:
        self.holding = set()
        for socket, frame in self.held:
            socket.send(frame)
        self.held.clear()

    async def go_offline(self) -> list[str]:
        """As a lost network: cut the socket, refuse new ones and fail every message POST
        (those of the outbox). Returns the URLs of the POSTs tried, as they are tried."""
        posts: list[str] = []

        async def refuse_posts(route: Route) -> None:
            if route.request.method == "POST":
                posts.append(route.request.url)
                await route.abort()
            else:
                await route.continue_()

        await self.page.route(MESSAGE_POSTS, refuse_posts)
        self.refusing = True
        await self.cut()
        return posts

    async def come_back_online(self) -> None:
        await self.page.unroute(MESSAGE_POSTS)
        self.refusing = False

    async def cut(self) -> None:
        """Close the connection at both ends, as a restarting proxy would; frames held
        back for it are lost with it."""
        cut = self.sockets[-1]
        self.held = [(socket, frame) for socket, frame in self.held if socket is not cut]
        await cut.close(code=1012, reason="cut by the test")

    @property
    def connection(self) -> Locator:
        return self.page.locator("#connection")

    @property
    def messages(self) -> Locator:
        return self.page.locator("#message-list > li.message")

    def message(self, text: str) -> Locator:
        """Messages whose body is exactly `text`."""
        return self.messages.filter(has=self.page.locator(".body").get_by_text(text, exact=True))

    def sidebar_item(self, conversation_id: str) -> Locator:
        return self.page.locator(f'#conversation-list a[data-id="{conversation_id}"]')

    @property
    def search_box(self) -> Locator:
        return self.page.get_by_role("searchbox", name="Search messages")

    @property
    def search_results(self) -> Locator:
        return self.page.locator("#search-result-list .result")

    async def type_and_send(self, text: str) -> None:
        await self.page.locator("#composer-input").fill(text)
        await self.page.locator("#composer-input").press("Enter")


OpenTab = Callable[..., Awaitable[Tab]]

# Small, so that a test can miss more events than a subscription replays.
REPLAY_LIMIT = 20


async def group_of_two(live: Directory, title: str) -> tuple[Person, Person, str]:
    """Alice ("Acme Admin") and her colleague Bob in a group; returns them and its id."""
    alice = await live.company("Acme")
    bob = await live.colleague(alice, "Bob")
    group = await live.conversation(alice, "group", [bob], title)
    return alice, bob, str(group["id"])


async def direct_of_two(live: Directory) -> tuple[Person, Person, str]:
    """Alice ("Acme Admin") and her colleague Bob in a direct conversation; returns them and
    its id."""
    alice = await live.company("Acme")
    bob = await live.colleague(alice, "Bob")
    direct = await live.conversation(alice, "direct", [bob])
    return alice, bob, str(direct["id"])


async def bodies_on_server(person: Person, conversation_id: str) -> list[str]:
    r = await person.get(f"/api/v1/conversations/{conversation_id}/messages", params={"limit": 100})
    assert r.status_code == 200, r.text
    return [m["body"] for m in r.json()["messages"]]
