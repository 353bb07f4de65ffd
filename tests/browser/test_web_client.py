"""The web client in Chromium, against a real `hallway serve`: live delivery and unread
badges, typing, history windows while scrolling up, resuming after the connection is cut, optimistic
sends, bodies shown as text, typing, edits and reactions, message search, and the sign-in forms."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import re
from urllib.parse import parse_qs, urlparse

from PIL import Image
from playwright.async_api import (
    Dialog,
    Locator,
    Page,
    Route,
    expect,
)

from tests.browser.support import (
    BROWSER_TESTS,
    REPLAY_LIMIT,
    OpenTab,
    Tab,
    bodies_on_server,
    group_of_two,
)
from tests.support import (
    Directory,
    Outbox,
    Person,
    ServerProcess,
    eventually,
    send,
    short_lived_token,
    unique_email,
)
from tests.test_accounts import join_with

pytestmark = BROWSER_TESTS


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
    await expect(page.locator("#auth-notice")).to_contain_text(f"sent a link to {address}")
    await expect(form).to_be_hidden()
    await page.goto(f"/#/welcome/{Outbox().confirmation_token(address)}")
    await expect(page.locator("#me-name")).to_have_text("Peter")
    assert urlparse(page.url).fragment == ""  # the spent link is gone from the address bar
    await expect(tab.connection).to_have_attribute("data-state", "live")
    assert await page.evaluate("sessionStorage.getItem('hallway.token')")

    token = await page.evaluate("sessionStorage.getItem('hallway.token')")
    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_role("button", name="Log in")).to_be_visible()
    assert await page.evaluate("sessionStorage.getItem('hallway.token')") is None
    # The server ended the session: the token the tab held is refused.
    me = await live.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401 and me.json()["error"]["code"] == "session_revoked"
    await page.locator("#login-email").fill(address)
    await page.locator("#login-password").fill("wrong password")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("#login-form .form-error")).to_have_text("wrong email or password")
    await page.locator("#login-password").fill("correct horse battery")
    await page.get_by_role("button", name="Log in").click()
    await expect(tab.connection).to_have_attribute("data-state", "live")


async def test_a_spent_welcome_link_says_so_and_offers_the_sign_up_form(
    live: Directory, tabs: OpenTab
) -> None:
    tab = await tabs()
    await tab.page.goto("/#/welcome/made-up-token")
    notice = tab.page.locator("#auth-notice")
    await expect(notice).to_have_text(
        "the link is unknown, used or expired; sign up again for a new one"
    )
    await expect(tab.page.locator("#signup-form")).to_be_visible()


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


async def test_the_search_box_offers_filters_and_completes_names(
    live: Directory, tabs: OpenTab
) -> None:
    alice, bob, group_id = await group_of_two(live, "plans")
    await send(alice, group_id, "deck from alice")
    await send(bob, group_id, "deck from bob")
    tab = await tabs(bob)
    page = tab.page
    offered = page.get_by_role("list", name="Search filters").get_by_role("button")

    await tab.search_box.fill("deck h")
    await expect(offered).to_have_text(["has:file with a file", "has:link with a link"])
    await tab.search_box.fill("deck f")
    await expect(offered).to_have_text(["from:@ from a person"])
    await offered.first.click()
    await expect(tab.search_box).to_have_value("deck from:@")
    await expect(tab.search_box).to_be_focused()
    await tab.search_box.press_sequentially("acm")
    await expect(offered).to_have_text(["Acme Admin"])
    await offered.first.click()
    await expect(tab.search_box).to_have_value('deck from:@"Acme Admin" ')
    await expect(tab.search_results).to_have_count(1)
    await expect(tab.search_results.first.locator(".snippet")).to_have_text("deck from alice")

    await tab.search_box.fill("in:#pl")
    await expect(offered).to_have_text(["plans"])
    await tab.search_box.press("Escape")
    await expect(tab.search_box).to_have_value("")
    await expect(page.get_by_role("list", name="Search filters")).to_be_hidden()


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


async def test_a_tab_renews_its_session_and_keeps_its_socket(
    live: Directory, tabs: OpenTab, env: dict[str, str]
) -> None:
    """A tab whose access token runs out renews it with its refresh token and hands the
    fresh one to its socket, which stays open and misses nothing."""
    alice, bob, cid = await group_of_two(live, "renewal")
    expiring = dataclasses.replace(bob, token=short_lived_token(env, bob, 6))
    tab = await tabs(expiring, cid, before_load=_record_sockets)
    await asyncio.sleep(8)  # past the first token's expiry
    await send(alice, cid, "after the renewal")
    await expect(tab.message("after the renewal")).to_have_count(1)
    await expect(tab.connection).to_have_attribute("data-state", "live")
    assert await tab.page.evaluate("window.openedSockets.length") == 1
    renewed = await tab.page.evaluate("sessionStorage.getItem('hallway.refresh')")
    assert renewed != bob.refresh_token
    # The renewed token is the session's: the spent refresh token would end it.
    me = await live.client.get(
        "/api/v1/me",
        headers={
            "Authorization": "Bearer "
            + await tab.page.evaluate("sessionStorage.getItem('hallway.token')")
        },
    )
    assert me.status_code == 200


async def test_a_reset_link_lets_a_person_choose_a_new_password(
    live: Directory, tabs: OpenTab
) -> None:
    alice = await live.company("Acme")
    bob = await live.colleague(alice, "Bob")
    link = (await alice.post(f"/api/v1/users/{bob.id}/password-reset")).json()
    tab = await tabs()
    page = tab.page
    # As a link opened from a mail: the page loads afresh. (Going from "/" to the link
    # would only change the hash, and the page reloads itself on that.)
    await page.goto("about:blank")
    await page.goto("/" + link["url"].split("/", 3)[3])
    form = page.locator("#reset-form")
    await expect(form.get_by_role("heading")).to_have_text("Choose a new password")
    await expect(page.locator("#login-form")).to_be_hidden()
    await form.get_by_label("New password").fill("short")
    await form.get_by_role("button", name="Set the password").click()
    await expect(page.locator("#reset-new-password-error")).not_to_be_empty()
    await form.get_by_label("New password").fill("a brand new secret")
    await form.get_by_role("button", name="Set the password").click()
    await expect(page.locator("#auth-notice")).to_have_text(
        "Your password is changed. Log in with it."
    )
    await page.locator("#login-email").fill(bob.email)
    await page.locator("#login-password").fill("a brand new secret")
    await page.get_by_role("button", name="Log in").click()
    await expect(tab.connection).to_have_attribute("data-state", "live")


PASSWORD = "correct horse battery"  # tests.support.Directory's
LINUX_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


async def log_in(live: Directory, person: Person, agent: str, password: str = PASSWORD) -> Person:
    """A new session of the person (a login through the API), from the device `agent`."""
    r = await live.client.post(
        "/api/v1/auth/login",
        json={"email": person.email, "password": password},
        headers={"User-Agent": agent},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    return dataclasses.replace(
        person, token=body["access_token"], refresh_token=body["refresh_token"]
    )


async def refused(live: Directory, person: Person) -> str | None:
    """The error code `GET /me` answers the person's access token, or None if it works."""
    me = await live.client.get("/api/v1/me", headers=person.headers)
    return None if me.status_code == 200 else str(me.json()["error"]["code"])


async def open_account(tab: Tab) -> Locator:
    await tab.page.get_by_role("button", name="Account").click()
    dialog = tab.page.get_by_role("dialog", name="Account")
    await expect(dialog).to_be_visible()
    return dialog


async def expect_logged_out(tab: Tab, notice: str) -> None:
    await expect(tab.page.get_by_role("button", name="Log in")).to_be_visible()
    await expect(tab.page.locator("#auth-notice")).to_have_text(notice)
    assert await tab.page.evaluate("sessionStorage.getItem('hallway.token')") is None


SESSION_ENDED = "Your session has ended. Please log in again."


def accept_confirmations(page: Page) -> list[str]:
    """Accept every confirmation the page asks from now on; their questions, in order."""
    asked: list[str] = []

    async def accept(confirmation: Dialog) -> None:
        asked.append(confirmation.message)
        await confirmation.accept()

    page.on("dialog", accept)
    return asked


async def expect_not_offered(page: Page, name: str) -> None:
    """*New message* does not offer `name` among the colleagues."""
    await page.get_by_role("button", name="New message").click()
    await expect(page.locator("#people-list")).not_to_contain_text(name)
    dialog = page.get_by_role("dialog", name="Message a colleague")
    await dialog.get_by_role("button", name="Close").click()


async def test_the_account_dialog_lists_sessions_and_ends_them(
    live: Directory, tabs: OpenTab
) -> None:
    _alice, bob, group_id = await group_of_two(live, "devices")
    laptop = await log_in(live, bob, LINUX_CHROME)
    phone = await log_in(live, bob, IPHONE_SAFARI)
    assert (await bob.post("/api/v1/auth/logout")).status_code == 204  # the join's session
    laptop_tab = await tabs(laptop, group_id)
    phone_tab = await tabs(phone, group_id)

    dialog = await open_account(laptop_tab)
    sessions = dialog.locator("#session-list > li")
    await expect(sessions).to_have_count(2)
    this_device = sessions.filter(has_text="This device")
    await expect(this_device).to_have_count(1)
    await expect(this_device.locator(".device")).to_have_text("Chrome on Linux")
    await expect(this_device.locator(".seen")).to_contain_text(
        re.compile(r"^Last seen (just now|\d+ minutes? ago)")
    )
    await expect(this_device.get_by_role("button")).to_have_count(0)  # no "End" for this one
    other = sessions.filter(has_text="Safari on iPhone")
    await expect(other).not_to_contain_text("This device")

    # Ending the other session: its socket closes (4401) and the tab is logged out.
    await other.get_by_role("button", name="End the session on Safari on iPhone").click()
    await expect(sessions).to_have_count(1)
    await expect_logged_out(phone_tab, SESSION_ENDED)
    assert await refused(live, phone) == "session_revoked"
    await expect(laptop_tab.connection).to_have_attribute("data-state", "live")

    # Log out everywhere: this session too, and the login page says so.
    another = await log_in(live, bob, IPHONE_SAFARI)
    await dialog.get_by_role("button", name="Log out everywhere").click()
    await expect_logged_out(laptop_tab, "You are logged out on every device.")
    assert await refused(live, laptop) == "session_revoked"
    assert await refused(live, another) == "session_revoked"


async def test_changing_the_password_in_the_account_dialog(live: Directory, tabs: OpenTab) -> None:
    _alice, bob, group_id = await group_of_two(live, "secrets")
    elsewhere = await log_in(live, bob, IPHONE_SAFARI)
    tab = await tabs(bob, group_id)
    dialog = await open_account(tab)
    form = dialog.locator("#password-form")
    current = form.get_by_label("Current password")
    new = form.get_by_label("New password")
    change = form.get_by_role("button", name="Change password")

    # A wrong current password: said by its field, and the tab stays logged in.
    await current.fill("not my password")
    await new.fill("a brand new secret")
    await change.click()
    await expect(dialog.locator("#password-current-error")).to_have_text(
        "The current password is wrong."
    )
    await expect(current).to_have_attribute("aria-invalid", "true")
    await expect(current).to_be_focused()
    await expect(tab.connection).to_have_attribute("data-state", "live")
    assert await refused(live, bob) is None

    # Too short: the server's sentence by the new password.
    await current.fill(PASSWORD)
    await new.fill("short")
    await change.click()
    await expect(dialog.locator("#password-new-error")).to_contain_text("at least 8 characters")
    await expect(new).to_have_attribute("aria-invalid", "true")
    await expect(current).not_to_have_attribute("aria-invalid", "true")

    await new.fill("a brand new secret")
    await change.click()
    await expect(dialog.locator("#password-done")).to_have_text(
        "Your password is changed. Your other sessions are logged out."
    )
    await expect(current).to_have_value("")
    await expect(new).to_have_value("")
    await expect(dialog.locator(".field-error:not(:empty)")).to_have_count(0)
    # Only this session stands now.
    await expect(dialog.locator("#session-list > li")).to_have_count(1)
    assert await refused(live, elsewhere) == "session_revoked"
    assert await refused(live, bob) is None
    await expect(tab.connection).to_have_attribute("data-state", "live")

    old = await live.client.post(
        "/api/v1/auth/login", json={"email": bob.email, "password": PASSWORD}
    )
    assert old.status_code == 401 and old.json()["error"]["code"] == "invalid_credentials"
    await log_in(live, bob, LINUX_CHROME, password="a brand new secret")


async def test_an_admin_sets_how_long_messages_are_kept(live: Directory, tabs: OpenTab) -> None:
    alice, bob, group_id = await group_of_two(live, "records")
    page = (await tabs(alice, group_id)).page
    await page.get_by_role("button", name="Manage people").click()
    form = page.get_by_role("form", name="Message retention")
    forever = form.get_by_role("radio", name="Keep messages forever")
    days = form.get_by_role("spinbutton", name="days")
    await expect(forever).to_be_checked()
    await expect(days).to_be_disabled()

    await form.get_by_role("radio", name="Keep messages for days").check()
    await expect(days).to_be_focused()
    await days.fill("0")
    await form.get_by_role("button", name="Save retention").click()
    await expect(form.locator("#retention-days-error")).to_contain_text("36,500")
    assert (await bob.get("/api/v1/company/retention")).json()["retention"] == "forever"

    await days.fill("30")
    await form.get_by_role("checkbox", name="Archive expired messages").check()
    await form.get_by_role("button", name="Save retention").click()
    await expect(form.get_by_role("status")).to_have_text(
        "Messages are kept for 30 days, then erased."
    )
    policy = (await bob.get("/api/v1/company/retention")).json()
    assert policy == {"retention": 30, "archive_expired": True}

    # Opened again, the dialog shows what the server holds.
    await page.keyboard.press("Escape")
    await page.get_by_role("button", name="Manage people").click()
    await expect(days).to_have_value("30")
    await expect(form.get_by_role("checkbox", name="Archive expired messages")).to_be_checked()


async def test_an_admin_manages_the_people_of_the_company(live: Directory, tabs: OpenTab) -> None:
    alice, bob, group_id = await group_of_two(live, "staff")
    await send(bob, group_id, "my last words")
    alice_tab = await tabs(alice, group_id)
    bob_tab = await tabs(bob, group_id)
    page = alice_tab.page
    await expect(bob_tab.page.get_by_role("button", name="Manage people")).to_be_hidden()

    await page.get_by_role("button", name="Manage people").click()
    dialog = page.get_by_role("dialog", name="Manage people")
    rows = dialog.locator("#admin-list > li")
    await expect(rows).to_have_count(2)
    me_row = rows.filter(has_text="Acme Admin (you)")
    bob_row = rows.filter(has_text="Bob")
    await expect(me_row.locator(".tag")).to_have_text(["Admin"])
    await expect(bob_row.locator(".tag")).to_have_text(["Member"])
    await expect(me_row.get_by_role("button", name="Deactivate")).to_have_count(0)

    # Deactivate, after a confirmation: Bob's tab is logged out at once.
    confirmations = accept_confirmations(page)
    await bob_row.get_by_role("button", name="Deactivate").click()
    await expect(bob_row.locator(".tag")).to_have_text(["Member", "Deactivated"])
    assert confirmations and confirmations[0].startswith("Deactivate Bob?")
    await expect(dialog.locator("#admin-done")).to_have_text(
        "Bob is deactivated and logged out everywhere."
    )
    await expect_logged_out(bob_tab, SESSION_ENDED)
    await expect(bob_row.get_by_role("button", name="Make admin")).to_have_count(0)

    # His name stays on his message, marked; he is left out of the pickers.
    said = alice_tab.message("my last words")
    await expect(said.locator(".sender")).to_have_text("Bob")
    await expect(said.locator(".meta")).to_contain_text("Bob (deactivated)")
    await dialog.get_by_role("button", name="Close").click()
    await expect_not_offered(page, "Bob")
    await page.get_by_role("button", name="New group or channel").click()
    await expect(page.locator("#create-members")).not_to_contain_text("Bob")
    await (
        page.get_by_role("dialog", name="New group or channel")
        .get_by_role("button", name="Cancel")
        .click()
    )

    # The login form says why he cannot log in.
    await bob_tab.page.locator("#login-email").fill(bob.email)
    await bob_tab.page.locator("#login-password").fill(PASSWORD)
    await bob_tab.page.get_by_role("button", name="Log in").click()
    await expect(bob_tab.page.locator("#login-form .form-error")).to_have_text(
        "This account has been deactivated. Ask an admin of your company."
    )

    # Reactivate: the mark goes, and he may log in again.
    await page.get_by_role("button", name="Manage people").click()
    await bob_row.get_by_role("button", name="Reactivate").click()
    await expect(bob_row.locator(".tag")).to_have_text(["Member"])
    await expect(bob_row.get_by_role("button", name="Deactivate")).to_be_focused()
    await expect(said.locator(".meta")).not_to_contain_text("(deactivated)")
    await bob_tab.page.get_by_role("button", name="Log in").click()
    await expect(bob_tab.connection).to_have_attribute("data-state", "live")

    # The last admin cannot make herself a member: said in words, not as a code.
    await me_row.get_by_role("button", name="Make member").click()
    await expect(dialog.locator(":scope > .form-error")).to_have_text(
        "Your company needs at least one active admin. Make someone else an admin first."
    )
    await expect(me_row.locator(".tag")).to_have_text(["Admin"])

    await bob_row.get_by_role("button", name="Make admin").click()
    await expect(bob_row.locator(".tag")).to_have_text(["Admin"])
    await expect(dialog.locator(":scope > .form-error")).to_have_text("")
    await expect(dialog.locator("#admin-done")).to_have_text("Bob is now an admin.")
    directory = (await alice.get("/api/v1/users")).json()["users"]
    assert {p["display_name"]: p["role"] for p in directory}["Bob"] == "admin"

    # Now she may step down; the admin's buttons go with her role.
    await me_row.get_by_role("button", name="Make member").click()
    await expect(dialog).to_be_hidden()
    await expect(page.get_by_role("button", name="Manage people")).to_be_hidden()
    await expect(page.get_by_role("button", name="Invite people")).to_be_hidden()


async def test_deleting_accounts_leaves_former_members_behind(
    live: Directory, tabs: OpenTab
) -> None:
    alice, bob, group_id = await group_of_two(live, "farewell")
    mia = await live.colleague(alice, "Mia")
    assert (
        await alice.post(f"/api/v1/conversations/{group_id}/members", json={"user_ids": [mia.id]})
    ).is_success
    await send(bob, group_id, "bob's goodbye")
    await send(mia, group_id, "mia's secret")
    alice_tab = await tabs(alice, group_id)
    bob_tab = await tabs(bob, group_id)
    mia_tab = await tabs(mia, group_id)
    page = alice_tab.page

    # An admin deletes Mia's account and erases her messages.
    await page.get_by_role("button", name="Manage people").click()
    people = page.get_by_role("dialog", name="Manage people")
    mia_row = people.locator("#admin-list > li").filter(has_text="Mia")
    await expect(
        people.locator("#admin-list > li")
        .filter(has_text="(you)")
        .get_by_role("button", name="Delete")
    ).to_have_count(0)
    asked = page.get_by_role("dialog", name="Delete an account")
    await mia_row.get_by_role("button", name="Delete").click()
    await expect(asked).to_contain_text("Mia is logged out everywhere")
    await asked.get_by_role("button", name="Cancel").click()  # changes nothing
    await expect(mia_row).to_be_visible()
    await mia_row.get_by_role("button", name="Delete").click()
    await asked.get_by_label("Also erase all their messages").check()
    await asked.get_by_role("button", name="Delete the account").click()
    await expect(people.locator("#admin-done")).to_have_text(
        "Mia's account and messages are deleted."
    )
    await expect(mia_row).to_have_count(0)
    await expect_logged_out(mia_tab, SESSION_ENDED)
    erased = alice_tab.messages.filter(has_text="This message was deleted.")
    await expect(erased.locator(".sender")).to_have_text("former member")
    assert "mia's secret" not in await bodies_on_server(alice, group_id)
    await people.get_by_role("button", name="Close").click()
    await expect_not_offered(page, "former member")

    # Bob deletes his own: a wrong password is said by its field and ends nothing.
    confirmations = accept_confirmations(bob_tab.page)
    dialog = await open_account(bob_tab)
    form = dialog.locator("#delete-account-form")
    await form.get_by_label("Password").fill("not my password")
    await form.get_by_role("button", name="Delete my account").click()
    await expect(form.locator("#delete-account-password-error")).to_have_text(
        "The password is wrong."
    )
    await expect(bob_tab.connection).to_have_attribute("data-state", "live")
    await form.get_by_label("Password").fill(PASSWORD)
    await form.get_by_role("button", name="Delete my account").click()
    await expect_logged_out(bob_tab, "Your account is deleted.")
    assert confirmations[-1].startswith("Delete your account? Your messages stay")
    assert await refused(live, bob) == "session_revoked"

    # His message stays, under "former member" (Alice's tab learns it with the people).
    await page.reload()
    said = alice_tab.message("bob's goodbye")
    await expect(said.locator(".sender")).to_have_text("former member")
    await expect(said.locator(".meta")).not_to_contain_text("(deactivated)")


async def test_an_admin_creates_copies_and_revokes_invites(
    live: Directory, server: ServerProcess, tabs: OpenTab
) -> None:
    alice = await live.company("Acme")
    tab = await tabs(alice)
    page = tab.page
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    await page.get_by_role("button", name="Invite people").click()
    dialog = page.get_by_role("dialog", name="Invite people")
    rows = dialog.locator("#invite-list > li.invite")
    await expect(dialog.locator("#invite-list")).to_have_text("No invites can be used now.")

    # A limit the server refuses is said by its field, and creates nothing.
    await dialog.get_by_label("People who may join with it").fill("0")
    await dialog.get_by_role("button", name="Create an invite").click()
    await expect(dialog.locator("#invite-max-uses-error")).not_to_be_empty()
    await expect(rows).to_have_count(0)

    await dialog.get_by_label("People who may join with it").fill("2")
    await dialog.get_by_label("Good for").select_option(label="1 day")
    await dialog.get_by_role("button", name="Create an invite").click()
    await expect(rows).to_have_count(1)
    await expect(rows.locator(".uses")).to_contain_text("0 of 2 joined · expires in")
    [invite] = (await alice.get("/api/v1/invites")).json()["invites"]
    assert invite["max_uses"] == 2
    link = await rows.locator(".link").text_content()
    assert link == f"{server.base_url}/#join={invite['code']}"

    await rows.get_by_role("button", name="Copy link").click()
    await expect(dialog.locator("#invite-done")).to_have_text("Link copied.")
    assert await page.evaluate("navigator.clipboard.readText()") == link

    # Someone joins with it: the count shows when the dialog opens again.
    assert (await join_with(live.client, invite["code"])).status_code == 201
    await dialog.get_by_role("button", name="Close").click()
    await page.get_by_role("button", name="Invite people").click()
    await expect(rows.locator(".uses")).to_contain_text("1 of 2 joined")

    await rows.get_by_role("button", name="Revoke").click()
    await expect(rows.locator(".tag")).to_have_text("Revoked")
    await expect(rows.get_by_role("button")).to_have_count(0)
    assert (await alice.get("/api/v1/invites")).json()["invites"] == []
    assert (await join_with(live.client, invite["code"])).status_code == 422
