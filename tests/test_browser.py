"""The web client in Chromium, against a real `hallway serve`: live delivery and unread
badges, typing, history windows while scrolling up, resuming after the connection is cut, optimistic
sends, bodies shown as text, typing, edits and reactions, message search, and the sign-in forms."""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from PIL import Image
from playwright.async_api import (
    Browser,
    Dialog,
    Locator,
    Page,
    Route,
    WebSocketRoute,
    async_playwright,
    expect,
)

from tests.support import Directory, Person, ServerProcess, eventually, send, unique_email

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

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Chromium is not installed at /usr/bin/chromium (CI installs it in .ci/run)",
    ),
]


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield chromium
        await chromium.close()


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


@pytest.fixture
def server(start_server: Callable[..., ServerProcess]) -> ServerProcess:
    return start_server(ws_replay_limit=str(REPLAY_LIMIT))


@pytest.fixture
async def tabs(browser: Browser, server: ServerProcess) -> AsyncIterator[OpenTab]:
    """Opens tabs, each in its own browser context (its own sessionStorage). No tab may
    raise a JavaScript error."""
    contexts = []
    opened: list[Tab] = []

    async def open_tab(
        person: Person | None = None,
        conversation_id: str | None = None,
        *,
        routed: bool = False,
        before_load: Callable[[Page], Awaitable[None]] | None = None,
    ) -> Tab:
        context = await browser.new_context(
            base_url=server.base_url, viewport={"width": 1100, "height": 700}
        )
        contexts.append(context)
        if person is not None:
            await context.add_init_script(
                f"sessionStorage.setItem('hallway.token', {json.dumps(person.token)})"
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


async def group_of_two(live: Directory, title: str) -> tuple[Person, Person, str]:
    """Alice ("Acme Admin") and her colleague Bob in a group; returns them and its id."""
    alice = await live.company("Acme")
    bob = await live.colleague(alice, "Bob")
    group = await live.conversation(alice, "group", [bob], title)
    return alice, bob, str(group["id"])


async def bodies_on_server(person: Person, conversation_id: str) -> list[str]:
    r = await person.get(f"/api/v1/conversations/{conversation_id}/messages", params={"limit": 100})
    assert r.status_code == 200, r.text
    return [m["body"] for m in r.json()["messages"]]


async def test_two_people_talk_live_with_typing_and_unread_badges_elsewhere(
    live: Directory, tabs: OpenTab
) -> None:
    alice, bob, group_id = await group_of_two(live, "plans")
    direct = await live.conversation(alice, "direct", [bob])
    alice_tab = await tabs(alice, group_id)
    bob_tab = await tabs(bob, group_id)
    await bob_tab.page.evaluate("window.notReloaded = true")

    await alice_tab.type_and_send("hello from the browser")
    await expect(bob_tab.message("hello from the browser")).to_have_count(1)
    await expect(bob_tab.message("hello from the browser").locator(".sender")).to_have_text(
        "Acme Admin"
    )

    # Typing shows for the others until the message arrives.
    typing = bob_tab.page.locator("#typing")
    await expect(typing).to_have_text("")
    await alice_tab.page.locator("#composer-input").press_sequentially("second, slowly")
    await expect(typing).to_have_text("Acme Admin is typing…")
    await expect(alice_tab.page.locator("#typing")).to_have_text("")  # not to herself
    await alice_tab.page.locator("#composer-input").press("Enter")
    await expect(bob_tab.message("second, slowly")).to_have_count(1)
    await expect(typing).to_have_text("")

    # A conversation Bob is not looking at: the inbox stream brings a badge and a preview.
    badge = bob_tab.sidebar_item(direct["id"]).locator(".badge")
    await expect(badge).to_have_count(0)
    await send(alice, direct["id"], "are you there?")
    await send(alice, direct["id"], "ping")
    await expect(badge).to_have_text("2")
    await expect(bob_tab.sidebar_item(direct["id"]).locator(".preview")).to_have_text("ping")
    assert await bob_tab.page.evaluate("window.notReloaded") is True

    # Opening it shows the messages and reads them: the badge goes, on the server too.
    await bob_tab.sidebar_item(direct["id"]).click()
    await expect(bob_tab.message("are you there?")).to_have_count(1)
    await expect(badge).to_have_count(0)

    async def read_on_server() -> bool:
        r = await bob.get("/api/v1/conversations")
        unread: dict[str, int] = {c["id"]: c["unread_count"] for c in r.json()["conversations"]}
        return unread[direct["id"]] == 0

    await eventually(read_on_server)


async def _record_sockets(page: Page) -> None:
    await page.add_init_script(
        """
        const NativeWebSocket = window.WebSocket;
        window.openedSockets = [];
        window.WebSocket = class extends NativeWebSocket {
          constructor(...args) { super(...args); window.openedSockets.push(this); }
        };
        """
    )


async def test_the_browser_socket_is_compressed_with_no_context_kept(
    live: Directory, tabs: OpenTab
) -> None:
    alice, bob, group_id = await group_of_two(live, "compressed")
    bob_tab = await tabs(bob, group_id, before_load=_record_sockets)
    extensions = await bob_tab.page.evaluate("window.openedSockets.at(-1).extensions")
    # Chromium offers permessage-deflate; the server takes it without context on either
    # side (docs/realtime.md), and the client decodes what the hub compressed once.
    assert extensions.startswith("permessage-deflate")
    assert "server_no_context_takeover" in extensions
    assert "client_no_context_takeover" in extensions
    await send(alice, group_id, "squeezed " * 100)
    await expect(bob_tab.message("squeezed " * 99 + "squeezed")).to_have_count(1)


async def test_scrolling_up_loads_older_windows_and_keeps_the_view_still(
    live: Directory, tabs: OpenTab
) -> None:
    alice, bob, group_id = await group_of_two(live, "history")
    for n in range(1, 61):
        await send(alice, group_id, f"message {n:02}")
    tab = await tabs(bob, group_id)
    await expect(tab.message("message 60")).to_be_in_viewport()
    await expect(tab.message("message 01")).to_have_count(0)
    oldest_shown = await tab.messages.first.locator(".body").text_content()
    assert oldest_shown != "message 01"

    await tab.page.locator("#messages").evaluate("box => { box.scrollTop = 0 }")
    await expect(tab.message("message 01")).to_have_count(1)
    await expect(tab.page.locator("#history-status")).to_have_text(
        "This is the beginning of the conversation."
    )
    await expect(tab.messages).to_have_count(60)
    # The window was added above what was on screen: that message is still in view.
    await expect(tab.message(str(oldest_shown))).to_be_in_viewport()
    await expect(tab.message("message 01")).not_to_be_in_viewport()


async def test_messages_sent_while_the_connection_is_cut_arrive_once(
    live: Directory, tabs: OpenTab
) -> None:
    alice, bob, group_id = await group_of_two(live, "outage")
    tab = await tabs(bob, group_id, routed=True)
    await send(alice, group_id, "before")
    await expect(tab.message("before")).to_have_count(1)

    # The network goes away: the client says so, and resumes when it is back.
    await tab.page.context.set_offline(True)
    await expect(tab.connection).to_have_attribute("data-state", "offline")
    for n in range(3):
        await send(alice, group_id, f"while offline {n}")
    await tab.page.context.set_offline(False)
    await expect(tab.connection).to_have_attribute("data-state", "live")
    for n in range(3):
        await expect(tab.message(f"while offline {n}")).to_have_count(1)

    # The connection drops while the network stays: reconnect with back-off, and resume.
    await tab.cut()
    for n in range(3):
        await send(alice, group_id, f"after the cut {n}")
    for n in range(3):
        await expect(tab.message(f"after the cut {n}")).to_have_count(1)
    await expect(tab.connection).to_have_attribute("data-state", "live")
    await expect(tab.messages).to_have_count(7)
    await send(alice, group_id, "live again")
    await expect(tab.messages).to_have_count(8)
    assert "resync" not in tab.frame_types

    # More missed than the server replays: it says resync, and the client reloads the window.
    await tab.page.context.set_offline(True)
    await expect(tab.connection).to_have_attribute("data-state", "offline")
    missed = [f"missed {n:02}" for n in range(REPLAY_LIMIT + 5)]
    for body in missed:
        await send(alice, group_id, body)
    await tab.page.context.set_offline(False)
    for body in missed:
        await expect(tab.message(body)).to_have_count(1)
    assert "resync" in tab.frame_types
    await send(alice, group_id, "live after the resync")
    await expect(tab.message("live after the resync")).to_have_count(1)
    shown = await tab.page.locator("#message-list .body").all_text_contents()
    assert len(shown) == len(set(shown))  # nothing twice


async def test_an_optimistic_message_is_shown_once_whichever_confirmation_comes_first(
    live: Directory, tabs: OpenTab
) -> None:
    """A live tab sends over its socket (no POST); the message it shows while sending is
    confirmed by the event or by the `sent` answer, whichever arrives first, and shown once."""
    alice, bob, group_id = await group_of_two(live, "drafts")
    tab = await tabs(bob, group_id, routed=True)
    posts: list[str] = []
    tab.page.on(
        "request",
        lambda r: (
            posts.append(r.url) if r.method == "POST" and r.url.endswith("/messages") else None
        ),
    )

    # 1. The event confirms it while the answer is still held back.
    tab.holding = {"sent"}
    await tab.type_and_send("event first")
    await expect(tab.message("event first")).not_to_have_class(re.compile(r"\bsending\b"))
    await eventually(lambda: tab.held)  # the answer came over the socket, and waits
    tab.release()

    # 2. The answer confirms it while the event is still held back.
    tab.holding = {"event"}
    await tab.type_and_send("answer first")
    await expect(tab.message("answer first")).not_to_have_class(re.compile(r"\bsending\b"))
    tab.release()
    # Frames keep their order: once this one shows, the held event was handled too.
    await send(alice, group_id, "later")
    await expect(tab.message("later")).to_have_count(1)

    await expect(tab.message("event first")).to_have_count(1)
    await expect(tab.message("answer first")).to_have_count(1)
    await expect(tab.messages).to_have_count(3)
    assert await bodies_on_server(alice, group_id) == ["event first", "answer first", "later"]
    assert posts == []


async def test_a_message_the_socket_cannot_send_is_posted_and_stored_once(
    live: Directory, tabs: OpenTab
) -> None:
    alice, bob, group_id = await group_of_two(live, "fallback")
    tab = await tabs(bob, group_id, routed=True)

    # The socket takes the message and goes before its answer (or event) comes back: the
    # tab cannot know whether it was stored, and POSTs it with the same client_msg_id.
    tab.holding = {"sent", "event"}
    async with tab.page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/messages")
    ) as posted:
        await tab.type_and_send("lost answer")
        await eventually(lambda: _stored(alice, group_id, "lost answer"))
        tab.refusing = True
        await tab.cut()
    assert (await posted.value).status == 200  # the original, not a second message
    await expect(tab.message("lost answer")).not_to_have_class(re.compile(r"\bsending\b"))

    # No live socket at all: the message goes over HTTP at once.
    await expect(tab.connection).not_to_have_attribute("data-state", "live")
    async with tab.page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/messages")
    ) as posted:
        await tab.type_and_send("over http")
    assert (await posted.value).status == 201
    await expect(tab.message("over http")).not_to_have_class(re.compile(r"\bsending\b"))

    tab.release()
    tab.refusing = False
    await expect(tab.connection).to_have_attribute("data-state", "live", timeout=20_000)
    await expect(tab.message("lost answer")).to_have_count(1)
    await expect(tab.message("over http")).to_have_count(1)
    assert await bodies_on_server(alice, group_id) == ["lost answer", "over http"]


async def _stored(person: Person, conversation_id: str, body: str) -> bool:
    return body in await bodies_on_server(person, conversation_id)


async def test_a_message_arriving_while_the_list_loads_shows_in_the_sidebar(
    live: Directory, tabs: OpenTab
) -> None:
    """The conversation list is read before a message that then arrives live, and answers
    after it: the sidebar must not fall back to the list's older last message."""
    alice, bob, group_id = await group_of_two(live, "plans")
    await send(alice, group_id, "before")
    release = asyncio.Event()

    async def hold_the_list(route: Route) -> None:
        answer = await route.fetch()  # read now, delivered later
        await release.wait()
        await route.fulfill(response=answer)

    async def hold_list_requests(page: Page) -> None:
        await page.route("**/api/v1/conversations?*", hold_the_list)

    tab = await tabs(bob, group_id, before_load=hold_list_requests)
    await send(alice, group_id, "while the list was on its way")
    await expect(tab.message("while the list was on its way")).to_have_count(1)
    release.set()
    await expect(tab.sidebar_item(group_id).locator(".preview")).to_have_text(
        "Acme Admin: while the list was on its way"
    )


async def test_message_bodies_and_titles_are_text_never_markup(
    live: Directory, tabs: OpenTab
) -> None:
    title = "<img src=x onerror=alert('title')>"
    alice, bob, group_id = await group_of_two(live, title)
    evil = "<img src=x onerror=alert(1)>"
    await send(alice, group_id, evil)
    tab = await tabs(bob, group_id)
    dialogs: list[str] = []

    async def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    tab.page.on("dialog", dismiss)
    live_evil = "<script>alert(2)</script><b>bold?</b>"
    await send(alice, group_id, live_evil)

    await expect(tab.message(evil)).to_have_count(1)
    await expect(tab.message(live_evil)).to_have_count(1)
    await expect(tab.page.locator("#conversation-title")).to_have_text(title)
    await expect(tab.sidebar_item(group_id).locator(".name")).to_have_text(title)
    await expect(tab.sidebar_item(group_id).locator(".preview")).to_have_text(
        f"Acme Admin: {live_evil}"
    )
    assert await tab.page.locator("#app img, #app script, #app b").count() == 0
    assert dialogs == []


async def test_edits_deletes_and_reactions_made_in_one_tab_show_in_the_other(
    live: Directory, tabs: OpenTab
) -> None:
    alice, bob, group_id = await group_of_two(live, "review")
    alice_tab = await tabs(alice, group_id)
    bob_tab = await tabs(bob, group_id)
    await alice_tab.type_and_send("teh plan")
    await alice_tab.type_and_send("a mistake")
    await expect(bob_tab.message("a mistake")).to_have_count(1)

    mine = alice_tab.message("teh plan")
    await mine.hover()
    await mine.get_by_role("button", name="Edit").click()
    editor = alice_tab.page.get_by_role("textbox", name="Edit message")
    await editor.fill("the plan")
    await editor.press("Enter")
    await expect(bob_tab.message("the plan").locator(".edited")).to_have_count(1)

    theirs = bob_tab.message("the plan")
    await theirs.hover()
    await expect(theirs.get_by_role("button", name="Edit")).to_have_count(0)  # not Bob's
    await theirs.get_by_role("button", name="React").click()
    await theirs.get_by_role("button", name="React with 🎉").click()
    await expect(theirs.get_by_role("button", name="🎉 1, including you")).to_have_count(1)
    await expect(alice_tab.message("the plan").get_by_role("button", name="🎉 1")).to_have_count(1)

    async def confirm(dialog: Dialog) -> None:
        await dialog.accept()

    alice_tab.page.once("dialog", confirm)
    mistake = alice_tab.message("a mistake")
    await mistake.hover()
    await mistake.get_by_role("button", name="Delete").click()
    await expect(bob_tab.message("a mistake")).to_have_count(0)
    await expect(bob_tab.message("This message was deleted.")).to_have_count(1)


async def test_messages_deleted_while_away_come_back_deleted_and_without_their_text(
    live: Directory, tabs: OpenTab
) -> None:
    """The events replayed after an outage are tombstones for a message deleted meanwhile:
    edits without a body, reactions without an emoji, and for one never seen a
    `message.created` without content. The client shows both messages as deleted."""
    alice, bob, group_id = await group_of_two(live, "away")
    tab = await tabs(bob, group_id)
    seen = await send(alice, group_id, "seen before")
    await expect(tab.message("seen before")).to_have_count(1)

    await tab.page.context.set_offline(True)
    await expect(tab.connection).to_have_attribute("data-state", "offline")
    unseen = await send(alice, group_id, "never seen")
    for message in (seen, unseen):
        url = f"/api/v1/messages/{message['id']}"
        assert (await alice.patch(url, json={"body": "edited while away"})).status_code == 200
        assert (await bob.put(f"{url}/reactions/🦓")).status_code == 204
        assert (await alice.delete(url)).status_code == 204
    await send(alice, group_id, "after")
    await tab.page.context.set_offline(False)

    await expect(tab.message("after")).to_have_count(1)
    await expect(tab.message("This message was deleted.")).to_have_count(2)
    shown = await tab.page.locator("#message-list").inner_text()
    for text in ("seen before", "never seen", "edited while away", "🦓"):
        assert text not in shown


async def test_sign_up_shows_errors_by_their_field_then_logs_in_and_out(
    live: Directory, tabs: OpenTab
) -> None:
    tab = await tabs()
    page = tab.page
    await page.get_by_role("tab", name="New company").click()
    form = page.locator("#signup-form")
    await form.get_by_label("Company name").fill("Initech")
    await form.get_by_label("Your name").fill("Peter")
    await form.get_by_label("Email").fill("not an email")
    await form.get_by_label("Password").fill("correct horse battery")
    await form.get_by_role("button", name="Create company").click()
    email = form.get_by_label("Email")
    await expect(page.locator("#signup-email-error")).to_have_text("that is not an email address")
    await expect(email).to_have_attribute("aria-invalid", "true")
    await expect(email).to_be_focused()

    address = unique_email("peter")
    await email.fill(address)
    await page.get_by_role("button", name="Create company").click()
    await expect(page.locator("#me-name")).to_have_text("Peter")
    await expect(tab.connection).to_have_attribute("data-state", "live")
    assert await page.evaluate("sessionStorage.getItem('hallway.token')")

    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_role("button", name="Log in")).to_be_visible()
    assert await page.evaluate("sessionStorage.getItem('hallway.token')") is None
    await page.locator("#login-email").fill(address)
    await page.locator("#login-password").fill("wrong password")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("#login-form .form-error")).to_have_text("wrong email or password")
    await page.locator("#login-password").fill("correct horse battery")
    await page.get_by_role("button", name="Log in").click()
    await expect(tab.connection).to_have_attribute("data-state", "live")


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 60, 40)).save(out, format="PNG")
    return out.getvalue()


async def test_an_attached_image_is_sent_and_shown_as_a_thumbnail(
    live: Directory, tabs: OpenTab
) -> None:
    alice, bob, group_id = await group_of_two(live, "photos")
    alice_tab = await tabs(alice, group_id)
    bob_tab = await tabs(bob, group_id)

    await bob_tab.page.locator("#attach-input").set_input_files(
        {"name": "sketch.png", "mimeType": "image/png", "buffer": png(64, 48)}
    )
    await expect(bob_tab.page.locator("#staged-files li")).to_contain_text("sketch.png")
    await expect(bob_tab.page.locator("#staged-files li")).to_contain_text("ready")
    await bob_tab.type_and_send("the sketch")
    await expect(bob_tab.page.locator("#staged-files li")).to_have_count(0)

    # Live frames and history both carry signed links: the thumbnail loads through one.
    for arrived in ("live", "from history"):
        if arrived == "from history":
            await alice_tab.page.reload()
        sent = alice_tab.message("the sketch")
        thumbnail = sent.get_by_role("img", name="sketch.png")
        await expect(thumbnail).to_have_count(1)
        await expect(thumbnail).to_have_js_property("complete", True)
        assert await thumbnail.evaluate("img => img.naturalWidth") > 0, arrived
        link = sent.locator(".attachments a")
        assert "signature=" in str(await link.get_attribute("href")), arrived


async def test_at_phone_width_one_pane_shows_at_a_time(live: Directory, tabs: OpenTab) -> None:
    alice, bob, group_id = await group_of_two(live, "pocket")
    await send(alice, group_id, "on the go")
    tab = await tabs(bob)
    page = tab.page
    await page.set_viewport_size({"width": 390, "height": 800})
    sidebar, conversation = page.locator("#sidebar"), page.locator("#conversation")
    await expect(sidebar).to_be_visible()
    await expect(conversation).to_be_hidden()

    await tab.sidebar_item(group_id).click()
    await expect(tab.message("on the go")).to_be_visible()
    await expect(sidebar).to_be_hidden()
    await expect(page.locator("#conversation-connection")).to_have_text("Live")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing sticks out sideways

    await page.get_by_role("button", name="Back to conversations").click()
    await expect(sidebar).to_be_visible()
    await expect(conversation).to_be_hidden()


def search_query(url: str) -> str:
    return parse_qs(urlparse(url).query)["q"][0]


async def test_search_marks_the_words_pages_and_finds_only_my_conversations(
    live: Directory, tabs: OpenTab
) -> None:
    alice, bob, group_id = await group_of_two(live, "plans")
    carol = await live.colleague(alice, "Carol")
    without_bob = await live.conversation(alice, "group", [carol], "without bob")
    await send(alice, without_bob["id"], "plan for carol only")
    for n in range(20):  # the client's page size: the 21st match is on the next page
        await send(alice, group_id, f"plan number {n:02}")
    evil = "<img src=x onerror=alert(1)> planning"
    await send(alice, group_id, evil)
    await send(alice, group_id, "plain text")  # found by "pla", not by "plan"
    tab = await tabs(bob)
    page = tab.page
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))

    # An answer for "pla" that comes after the answer for "plan" is dropped.
    pla_may_answer = asyncio.Event()

    async def hold_pla(route: Route) -> None:
        if search_query(route.request.url) == "pla":
            await pla_may_answer.wait()
        await route.continue_()

    await page.route("**/api/v1/search?*", hold_pla)
    async with page.expect_request(lambda r: "/search?" in r.url):
        await tab.search_box.fill("pla")
        await tab.search_box.press("Enter")
    await tab.search_box.fill("plan")  # no Enter: searched once typing pauses
    results = tab.search_results
    await expect(results).to_have_count(20)
    async with page.expect_response(lambda r: search_query(r.url) == "pla"):
        pla_may_answer.set()
    await page.evaluate("() => new Promise((done) => setTimeout(done, 100))")
    await expect(results).to_have_count(20)
    await expect(results.filter(has_text="plain text")).to_have_count(0)

    # Newest first, the matched words marked; markup in a body stays text.
    newest = results.first
    await expect(newest.locator(".snippet")).to_have_text(evil)
    await expect(newest.locator("mark")).to_have_text(["planning"])
    await expect(newest.locator(".where")).to_have_text("plans")
    await expect(newest.locator(".sender")).to_have_text("Acme Admin")
    assert await page.locator("#app img").count() == 0

    await page.get_by_role("button", name="Load more").click()
    await expect(results).to_have_count(21)  # never "plan for carol only"
    await expect(page.get_by_role("button", name="Load more")).to_be_hidden()
    await expect(results.last.locator(".snippet")).to_have_text("plan number 00")
    await expect(results.last.locator("mark")).to_have_text(["plan"])
    await expect(page.locator("#search-results")).not_to_contain_text("carol")

    # A query the server refuses shows the server's own sentence.
    refused = await bob.get("/api/v1/search", params={"q": "***"})
    assert refused.status_code == 422, refused.text
    await tab.search_box.fill("***")
    await tab.search_box.press("Enter")
    await expect(page.locator("#search-status")).to_have_text(refused.json()["error"]["message"])
    await expect(results).to_have_count(0)

    await tab.search_box.fill("zebra")
    await tab.search_box.press("Enter")
    await expect(page.locator("#search-status")).to_have_text("No messages match.")

    # Escape closes the results: the conversation list is back.
    await tab.search_box.press("Escape")
    await expect(page.locator("#search-results")).to_be_hidden()
    await expect(tab.search_box).to_have_value("")
    await expect(tab.sidebar_item(group_id)).to_be_visible()
    assert dialogs == []


async def test_a_search_result_opens_its_conversation_at_the_message(
    live: Directory, tabs: OpenTab
) -> None:
    alice, bob, group_id = await group_of_two(live, "archive")
    direct = await live.conversation(alice, "direct", [bob])
    await send(alice, direct["id"], "a needle elsewhere")
    await send(alice, group_id, "the needle in the haystack")
    for n in range(60):  # the needle is older than the newest window the client loads
        await send(alice, group_id, f"hay {n:02}")
    tab = await tabs(bob)
    page = tab.page

    await tab.search_box.fill("needle")
    await tab.search_box.press("Enter")
    await expect(tab.search_results).to_have_count(2)
    haystack = tab.search_results.filter(has_text="haystack")
    await expect(haystack.locator(".where")).to_have_text("archive")
    await haystack.click()
    await expect(page.locator("#conversation-title")).to_have_text("archive")
    needle = tab.message("the needle in the haystack")
    await expect(needle).to_be_in_viewport()
    await expect(needle).to_be_focused()

    # Only this conversation: the direct conversation's needle goes.
    await page.get_by_label("Only this conversation").check()
    await expect(tab.search_results).to_have_count(1)
    await expect(tab.search_results.locator(".where")).to_have_text("archive")
