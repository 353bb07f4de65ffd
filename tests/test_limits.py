"""Rate limits and caps: login guessing, sign-ups, sends, uploads, searches, edits, socket
frames and sockets, reactions; what an emoji is; limits shared by nodes; Redis away.

Each test runs on limits of its own (small ones, under a key prefix of its own, so that
counters in the shared Redis are never another test's)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from hallway.config import Settings
from hallway.domain.errors import RateLimited
from hallway.domain.rate_limits import OUTAGE_RECHECK_SECONDS, RateLimits
from hallway.domain.reactions import BIDI_CONTROLS, ZWJ, is_emoji
from hallway.realtime.redis_outage import RedisOutageLog
from tests.files_support import png_bytes, upload
from tests.support import (
    TEST_DATABASE_URL,
    TEST_REDIS_URL,
    Directory,
    Person,
    ServerProcess,
    authenticated_socket,
    error_of,
    frames_of_types,
    free_port,
    running_app,
    send,
    settings_from_env,
    unique_email,
)

pytestmark = pytest.mark.anyio

DEFAULTS = Settings.model_fields
PASSWORD = "correct horse battery"


def _prefix() -> str:
    return f"hallway-test-limits:{uuid.uuid4().hex}"


@asynccontextmanager
async def limited(env: dict[str, str], **overrides: Any) -> AsyncIterator[FastAPI]:
    """An in-process app on this stack with these limits, counting under a fresh prefix."""
    settings = settings_from_env(env, rate_limit_key_prefix=_prefix(), **overrides)
    async with running_app(settings) as (app, _client):
        yield app


@asynccontextmanager
async def limited_client(
    env: dict[str, str], host: str = "127.0.0.1", **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A client from this address of an app with these limits."""
    async with limited(env, **overrides) as app, from_address(app, host) as client:
        yield client


@asynccontextmanager
async def from_address(app: FastAPI, host: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app that comes from this address."""
    transport = httpx.ASGITransport(app=app, client=(host, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://hallway.test") as c:
        yield c


def rate_limited(response: httpx.Response) -> int:
    """Assert the one answer of a rate limit; return its Retry-After."""
    error = error_of(response, 429, "rate_limited")
    retry_after = int(response.headers["Retry-After"])
    assert retry_after >= 1
    assert error["details"] == {"retry_after": retry_after}
    return retry_after


async def login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password})


def _shape(response: httpx.Response) -> tuple[int, str, str, list[str]]:
    """What an answer to a failed login shows, but for the number of seconds to wait."""
    error = response.json()["error"]
    message = re.sub(r"\d+", "N", error["message"])
    return response.status_code, error["code"], message, sorted(error["details"])


# --- login ---------------------------------------------------------------------------


async def test_login_guesses_per_account_known_or_unknown_answered_alike(
    env: dict[str, str],
) -> None:
    """At the default limit an attacker gets 5 guesses at an account, then 429 with a wait;
    at each step an account that exists and one that does not answer the same."""
    async with (
        limited(
            env, login_failures_per_account=DEFAULTS["login_failures_per_account"].default
        ) as app,
        from_address(app, "198.51.100.7") as client,
    ):
        known = await Directory(client).company()
        unknown = unique_email("nobody")
        steps = []
        for _ in range(8):
            a = await login(client, known.email, "a wrong guess")
            b = await login(client, unknown, "a wrong guess")
            assert _shape(a) == _shape(b)
            assert ("Retry-After" in a.headers) == ("Retry-After" in b.headers)
            steps.append(a.status_code)
        assert steps == [401] * 5 + [429] * 3
        retry_after = rate_limited(await login(client, unknown, "a wrong guess"))
        assert 1 <= retry_after <= 15 * 60
        # The right password waits too: the limit does not say whether a guess was right.
        rate_limited(await login(client, known.email, PASSWORD))


async def test_a_stolen_session_guesses_the_current_password_no_faster_than_login(
    env: dict[str, str],
) -> None:
    async with limited_client(env, login_failures_per_account="3 per minute") as client:
        person = await Directory(client).company()
        change = {"current_password": "a wrong guess", "new_password": "a new password 1"}
        deletion = {"password": "a wrong guess", "erase_messages": False}
        error_of(await person.post("/api/v1/me/password", json=change), 401)
        delete_me = partial(
            client.request, "DELETE", "/api/v1/me", json=deletion, headers=person.headers
        )
        error_of(await delete_me(), 401)
        error_of(await login(client, person.email, "a wrong guess"), 401)
        # One budget for the account, wherever the guesses come in.
        rate_limited(await person.post("/api/v1/me/password", json=change))
        rate_limited(await delete_me())
        rate_limited(await login(client, person.email, "a wrong guess"))


async def test_login_waits_grow_with_each_window(env: dict[str, str]) -> None:
    async with (
        limited(env, login_failures_per_account="2 per 2 seconds; 3 per 30 seconds") as app,
        from_address(app, "198.51.100.8") as client,
    ):
        email = unique_email("victim")
        assert [(await login(client, email, "guess")).status_code for _ in range(2)] == [401] * 2
        first_wait = rate_limited(await login(client, email, "guess"))
        assert first_wait <= 2
        await asyncio.sleep(first_wait + 0.1)
        assert (await login(client, email, "guess")).status_code == 401  # the 3rd in 30 s
        second_wait = rate_limited(await login(client, email, "guess"))
        assert second_wait > first_wait


async def test_login_guesses_per_address(env: dict[str, str]) -> None:
    """At the default limit one address gets 30 wrong guesses, over any accounts, then 429;
    another address is not affected."""
    async with limited(
        env, login_failures_per_address=DEFAULTS["login_failures_per_address"].default
    ) as app:
        async with from_address(app, "203.0.113.9") as attacker:
            guesses = 0
            while guesses < 100:
                # A fresh account every 5 guesses keeps under the per-account limit.
                r = await login(attacker, unique_email("sprayed"), "Summer2026!")
                if r.status_code == 429:
                    rate_limited(r)
                    break
                assert r.status_code == 401
                guesses += 1
            assert guesses == 30
        async with from_address(app, "203.0.113.10") as other:
            assert (await login(other, unique_email("x"), "guess")).status_code == 401


async def test_a_successful_login_does_not_reset_the_address(env: dict[str, str]) -> None:
    async with limited(env, login_failures_per_address="3 per minute") as app:
        async with from_address(app, "192.0.2.1") as setup:
            mine = await Directory(setup).company()
        async with from_address(app, "192.0.2.2") as client:
            for _ in range(2):
                assert (await login(client, unique_email("other"), "guess")).status_code == 401
            # Logging in to one's own account, again and again, takes nothing back.
            for _ in range(5):
                assert (await login(client, mine.email, PASSWORD)).status_code == 200
            assert (await login(client, unique_email("other"), "guess")).status_code == 401
            rate_limited(await login(client, unique_email("other"), "guess"))
            rate_limited(await login(client, mine.email, PASSWORD))


async def test_right_passwords_do_not_count_against_an_account(env: dict[str, str]) -> None:
    async with limited_client(
        env, login_failures_per_account="2 per minute", host="192.0.2.3"
    ) as client:
        person = await Directory(client).company()
        for _ in range(6):
            assert (await login(client, person.email, PASSWORD)).status_code == 200
        assert (await login(client, person.email, "typo")).status_code == 401
        assert (await login(client, person.email, PASSWORD)).status_code == 200


# --- sign-up and join ----------------------------------------------------------------


def _signup_body() -> dict[str, str]:
    return {
        "company_name": "Spam Inc",
        "email": unique_email("spam"),
        "password": PASSWORD,
        "display_name": "Spammer",
    }


def _join_body(code: str) -> dict[str, str]:
    return {
        "invite_code": code,
        "email": unique_email("joiner"),
        "password": PASSWORD,
        "display_name": "Joiner",
    }


async def test_signups_and_joins_are_limited_per_address(env: dict[str, str]) -> None:
    async with limited(
        env, signups_per_address="2 per minute", joins_per_address="2 per minute"
    ) as app:
        async with from_address(app, "198.51.100.20") as client:
            for _ in range(2):
                body = _signup_body()
                assert (await client.post("/api/v1/auth/signup", json=body)).status_code == 202
            rate_limited(await client.post("/api/v1/auth/signup", json=_signup_body()))
            admin = await Directory(client).confirm(body["email"])  # confirming is no sign-up
            code = (await admin.post("/api/v1/invites", json={})).json()["code"]
            for _ in range(2):
                r = await client.post("/api/v1/auth/join", json=_join_body(code))
                assert r.status_code == 202
            rate_limited(await client.post("/api/v1/auth/join", json=_join_body(code)))
        async with from_address(app, "198.51.100.21") as other:
            r = await other.post("/api/v1/auth/signup", json=_signup_body())
            assert r.status_code == 202
            assert (await other.post("/api/v1/auth/join", json=_join_body(code))).status_code == 202


# --- per person ------------------------------------------------------------------------


async def test_http_sends_are_limited_per_person(env: dict[str, str]) -> None:
    async with limited_client(env, sends_per_person="3 per 2 seconds", host="127.0.0.1") as client:
        admin, bob, conversation = await Directory(client).team()
        cid = conversation["id"]
        for i in range(3):
            await send(admin, cid, f"m{i}")
        url = f"/api/v1/conversations/{cid}/messages"
        wait = rate_limited(await admin.post(url, json={"body": "one too many"}))
        assert wait <= 2
        await send(bob, cid, "bob has a budget of his own")
        await asyncio.sleep(wait + 0.1)
        await send(admin, cid, "after the window")


async def test_uploads_searches_and_edits_are_limited_per_person(env: dict[str, str]) -> None:
    async with (
        limited(
            env,
            uploads_per_person="2 per minute",
            searches_per_person="2 per minute",
            edits_per_person="2 per minute",
        ) as app,
        from_address(app, "127.0.0.1") as client,
    ):
        admin, bob, conversation = await Directory(client).team()
        cid = conversation["id"]
        for _ in range(2):
            r = await upload(admin, cid, png_bytes(), "p.png", "image/png")
            assert r.status_code == 201, r.text
        rate_limited(await upload(admin, cid, png_bytes(), "p.png", "image/png"))

        for _ in range(2):
            assert (await admin.get("/api/v1/search", params={"q": "hello"})).status_code == 200
        rate_limited(await admin.get("/api/v1/search", params={"q": "hello"}))

        message = await send(admin, cid, "draft")
        for i in range(2):
            r = await admin.patch(f"/api/v1/messages/{message['id']}", json={"body": f"v{i}"})
            assert r.status_code == 200
        rate_limited(await admin.patch(f"/api/v1/messages/{message['id']}", json={"body": "x"}))

        # Each person has budgets of their own.
        assert (await upload(bob, cid, png_bytes(), "p.png", "image/png")).status_code == 201
        assert (await bob.get("/api/v1/search", params={"q": "hello"})).status_code == 200


async def test_rate_limiting_off_limits_nothing(env: dict[str, str]) -> None:
    async with limited_client(
        env, rate_limiting=False, sends_per_person="1 per minute", host="127.0.0.1"
    ) as client:
        admin, _bob, conversation = await Directory(client).team()
        for i in range(5):
            await send(admin, conversation["id"], f"m{i}")
        for _ in range(8):
            assert (await login(client, admin.email, "wrong")).status_code == 401


# --- realtime ------------------------------------------------------------------------


def _frame(**fields: Any) -> str:
    return orjson.dumps(fields).decode()


async def test_socket_sends_share_the_budget_and_a_refusal_keeps_the_socket(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server(sends_per_person="3 per 3 seconds", rate_limit_key_prefix=_prefix())
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        admin, _bob, conversation = await Directory(http).team()
        cid = conversation["id"]
        ws = await authenticated_socket(server, admin)
        try:
            for i in range(4):
                await ws.send(_frame(type="send", ref=f"r{i}", conversation_id=cid, body=f"m{i}"))
            answers = await frames_of_types(ws, ("sent", "error"), 4)
            assert [a["type"] for a in answers] == ["sent"] * 3 + ["error"]
            refused = answers[3]
            assert refused["code"] == "rate_limited" and refused["ref"] == "r3"
            assert isinstance(refused["message"], str) and refused["message"]
            assert 1 <= refused["retry_after"] <= 3
            # HTTP sends draw on the same budget.
            url = f"/api/v1/conversations/{cid}/messages"
            rate_limited(await admin.post(url, json={"body": "over http"}))
            # The socket is still open, and sends again once the window is over.
            await ws.send(_frame(type="ping"))
            assert (await frames_of_types(ws, ("pong",), 1))[0]["type"] == "pong"
            await asyncio.sleep(refused["retry_after"] + 0.1)
            await ws.send(_frame(type="send", ref="later", conversation_id=cid, body="later"))
            later = (await frames_of_types(ws, ("sent", "error"), 1))[0]
            assert later["type"] == "sent" and later["ref"] == "later"
        finally:
            await ws.close()


@pytest.mark.every_server
async def test_frames_are_limited_per_socket(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server(ws_frames_per_connection="5 per 3 seconds")
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        admin, _bob, conversation = await Directory(http).team()
        cid = conversation["id"]
        ws = await authenticated_socket(server, admin)
        other = await authenticated_socket(server, admin)
        try:
            for _ in range(5):
                await ws.send(_frame(type="ping"))
            await ws.send(_frame(type="subscribe", conversation_id=cid))
            await ws.send(_frame(type="send", ref="s1", conversation_id=cid, body="hi"))
            answers = await frames_of_types(ws, ("pong", "error", "subscribed", "sent"), 7)
            assert [a["type"] for a in answers] == ["pong"] * 5 + ["error"] * 2
            assert answers[5]["code"] == "rate_limited"
            assert answers[5]["conversation_id"] == cid
            assert answers[6]["ref"] == "s1" and "conversation_id" not in answers[6]
            wait = answers[5]["retry_after"]
            assert 1 <= wait <= 3
            # Another socket of the same person has a count of its own.
            await other.send(_frame(type="ping"))
            assert (await frames_of_types(other, ("pong",), 1))[0]["type"] == "pong"
            await asyncio.sleep(wait + 0.1)
            await ws.send(_frame(type="subscribe", conversation_id=cid))
            assert (await frames_of_types(ws, ("subscribed", "error"), 1))[0]["type"] == (
                "subscribed"
            )
        finally:
            await ws.close()
            await other.close()


@pytest.mark.every_server
async def test_sockets_per_person_are_capped(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server(ws_connections_per_person="3")
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        admin = await Directory(http).company()
        colleague = await Directory(http).colleague(admin)
    sockets = [await authenticated_socket(server, admin) for _ in range(3)]
    try:
        async with connect(server.ws_url) as ws:
            await ws.send(_frame(type="auth", token=admin.token))
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            assert (ws.close_code, ws.close_reason) == (4429, "too_many_connections")
        # The three open ones are unaffected, and so is anyone else.
        for open_socket in sockets:
            await open_socket.send(_frame(type="ping"))
            assert (await frames_of_types(open_socket, ("pong",), 1))[0]["type"] == "pong"
        await (await authenticated_socket(server, colleague)).close()
        # A place given up is free again.
        await sockets.pop().close()
        deadline = time.monotonic() + 5
        while True:
            try:
                sockets.append(await authenticated_socket(server, admin))
                break
            except (AssertionError, ConnectionClosed):
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
    finally:
        for open_socket in sockets:
            await open_socket.close()


# --- reactions -----------------------------------------------------------------------


async def test_reactions_are_capped_per_message_and_per_person(directory: Directory) -> None:
    admin, bob, conversation = await directory.team()
    carol = await directory.colleague(admin, "Carol")
    await admin.post(
        f"/api/v1/conversations/{conversation['id']}/members", json={"user_ids": [carol.id]}
    )
    message = await send(admin, conversation["id"], "react to me")
    url = f"/api/v1/messages/{message['id']}/reactions"
    limits = Settings.model_fields
    per_person = limits["max_reactions_per_person_per_message"].default
    per_message = limits["max_reaction_emoji_per_message"].default
    assert (per_person, per_message) == (20, 50)
    shortcodes = [f":e{i}:" for i in range(per_message + 5)]
    for name in shortcodes[:per_person]:
        assert (await admin.put(f"{url}/{name}")).status_code == 204
    error = error_of(await admin.put(f"{url}/{shortcodes[per_person]}"), 409, "too_many_reactions")
    assert error["details"]["limit"] == per_person
    assert (await admin.put(f"{url}/{shortcodes[0]}")).status_code == 204  # already there
    for name in shortcodes[per_person : 2 * per_person]:
        assert (await bob.put(f"{url}/{name}")).status_code == 204
    for name in shortcodes[2 * per_person : per_message]:
        assert (await carol.put(f"{url}/{name}")).status_code == 204
    error = error_of(await carol.put(f"{url}/{shortcodes[per_message]}"), 409, "too_many_emoji")
    assert error["details"]["limit"] == per_message
    # One of the emoji already there may still be added.
    assert (await carol.put(f"{url}/{shortcodes[0]}")).status_code == 204
    # Taking one back makes room for one more, of either kind.
    assert (await admin.delete(f"{url}/{shortcodes[1]}")).status_code == 204
    assert (await admin.put(f"{url}/{shortcodes[per_message + 1]}")).status_code == 204


async def test_emoji_rules_at_the_api(directory: Directory) -> None:
    admin, _bob, conversation = await directory.team()
    message = await send(admin, conversation["id"], "react to me")
    url = f"/api/v1/messages/{message['id']}/reactions"
    for good in ("👍", "👍🏽", ":thumbs_up:", "🇫🇷", "👨\u200d👩\u200d👧\u200d👦", "1️⃣"):
        assert (await admin.put(f"{url}/{quote(good, safe='')}")).status_code == 204, good
    for bad in ("abc", "\u202e", "👍\u202e", "a\u0007", ":Thumbs:"):
        error = error_of(await admin.put(f"{url}/{quote(bad, safe='')}"), 422, "invalid_emoji")
        assert error["details"]["field"] == "emoji"


# --- what an emoji is ----------------------------------------------------------------

EMOJI = [
    "👍",
    "👍🏽",  # a skin tone
    "👨\u200d👩\u200d👧\u200d👦",  # a family: four joined by ZWJ
    "🇫🇷",  # a flag: two regional indicators
    "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",  # England: tags
    "1️⃣",  # a keycap
    "❤️",  # with its variation selector
    "❤",
    "🏳️\u200d🌈",
]
NOT_EMOJI = [
    "abc",
    "",
    "a",
    "1",
    " ",
    "👍👍",
    "👍 ",
    ":thumbs up:",
    ":A:",
    "::",
    ":" + "a" * 33 + ":",
]
# What may never be in a reaction: bidi marks, controls, and other invisible format characters.
FORBIDDEN = st.one_of(
    st.sampled_from(sorted(BIDI_CONTROLS)),
    st.characters(categories=["Cc"]),
    st.characters(categories=["Cf"]).filter(lambda c: c != ZWJ and not 0xE0020 <= ord(c) < 0xE0080),
)


@pytest.mark.parametrize("text", EMOJI)
def test_real_emoji_are_emoji(text: str) -> None:
    assert is_emoji(text)


@pytest.mark.parametrize("text", [*NOT_EMOJI, "\u202e", "\u200e", "\u061c", "\u2066", "\x00"])
def test_other_text_is_not(text: str) -> None:
    assert not is_emoji(text)


def test_short_names() -> None:
    for name in (":thumbs_up:", ":+1:", ":-1:", ":a:", ":" + "z" * 32 + ":", ":100:"):
        assert is_emoji(name)


@given(before=st.text(max_size=8), bad=FORBIDDEN, after=st.text(max_size=8))
def test_nothing_with_a_bidi_control_or_format_character_passes(
    before: str, bad: str, after: str
) -> None:
    assert not is_emoji(before + bad + after)


@given(emoji=st.sampled_from(EMOJI), bad=FORBIDDEN, at=st.integers(min_value=0, max_value=12))
def test_a_real_emoji_with_a_forbidden_character_in_it_does_not_pass(
    emoji: str, bad: str, at: int
) -> None:
    at = min(at, len(emoji))
    assert not is_emoji(emoji[:at] + bad + emoji[at:])


@given(name=st.from_regex(r"[a-z0-9_+-]{1,32}", fullmatch=True))
def test_every_short_name_passes(name: str) -> None:
    assert is_emoji(f":{name}:")


# --- Redis away, nodes sharing -------------------------------------------------------


async def test_limits_fail_open_and_log_once_when_redis_is_away(
    env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing listens on the port: every limit lets requests through, no request fails,
    and the outage log says so once."""
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with caplog.at_level(logging.WARNING, logger="hallway.realtime.redis_outage"):
        settings = settings_from_env(env, redis_url=dead, sends_per_person="1 per minute")
        limits = RateLimits(settings, RedisOutageLog())
        try:
            for _ in range(5):
                await limits.hit(limits.send, "someone")
            taken = await limits.take((limits.login_account, "x"), (limits.login_address, "y"))
            assert taken == ()
            await limits.give_back(taken)
            await asyncio.sleep(OUTAGE_RECHECK_SECONDS)
            await limits.hit(limits.send, "someone")  # asks Redis again: still away
        finally:
            await limits.close()
    lines = [r.getMessage() for r in caplog.records if "redis unreachable" in r.getMessage()]
    assert len(lines) == 1, lines

    async with limited_client(
        env, redis_url=dead, sends_per_person="1 per minute", host="127.0.0.1"
    ) as client:
        admin, _bob, conversation = await Directory(client).team()
        for i in range(3):
            await send(admin, conversation["id"], f"m{i}")
        assert (await login(client, admin.email, PASSWORD)).status_code == 200


@pytest.mark.skipif(
    not (TEST_DATABASE_URL and TEST_REDIS_URL),
    reason="needs HALLWAY_TEST_DATABASE_URL and HALLWAY_TEST_REDIS_URL (CI sets both)",
)
@pytest.mark.parametrize("stack", ["postgresql"], indirect=True)
async def test_two_nodes_share_each_budget(start_server: Callable[..., ServerProcess]) -> None:
    limits = {
        "sends_per_person": "4 per minute",
        "login_failures_per_account": "3 per minute",
        "rate_limit_key_prefix": _prefix(),
    }
    node_a, node_b = start_server(**limits), start_server(**limits)
    async with (
        httpx.AsyncClient(base_url=node_a.base_url, timeout=10) as http_a,
        httpx.AsyncClient(base_url=node_b.base_url, timeout=10) as http_b,
    ):
        admin, _bob, conversation = await Directory(http_a).team()
        cid = conversation["id"]
        on_b = Person(**{**vars(admin), "client": http_b})
        await send(admin, cid, "a1")
        await send(admin, cid, "a2")
        await send(on_b, cid, "b1")
        await send(on_b, cid, "b2")
        rate_limited(await admin.post(f"/api/v1/conversations/{cid}/messages", json={"body": "x"}))
        rate_limited(await on_b.post(f"/api/v1/conversations/{cid}/messages", json={"body": "x"}))

        assert (await login(http_a, admin.email, "guess")).status_code == 401
        assert (await login(http_b, admin.email, "guess")).status_code == 401
        assert (await login(http_a, admin.email, "guess")).status_code == 401
        rate_limited(await login(http_b, admin.email, "guess"))
        rate_limited(await login(http_a, admin.email, "guess"))


# --- documentation -------------------------------------------------------------------


async def test_limited_routes_document_429(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    limited_routes = [
        ("post", "/api/v1/auth/login"),
        ("post", "/api/v1/auth/signup"),
        ("post", "/api/v1/auth/join"),
        ("post", "/api/v1/conversations/{conversation_id}/messages"),
        ("post", "/api/v1/conversations/{conversation_id}/attachments"),
        ("get", "/api/v1/search"),
        ("patch", "/api/v1/messages/{message_id}"),
    ]
    for method, path in limited_routes:
        answer = paths[path][method]["responses"]["429"]
        assert "Retry-After" in answer["headers"], (method, path)
        assert answer["content"]["application/json"]["schema"]["$ref"].endswith("ErrorBody")
    assert "429" not in paths["/api/v1/me"]["get"]["responses"]


def test_a_limit_that_cannot_be_read_stops_startup() -> None:
    with pytest.raises(ValueError, match="sends_per_person"):
        Settings(sends_per_person="thirty a second")
    with pytest.raises(ValueError, match="at least 1"):
        Settings(sends_per_person="0 per second")


def test_the_error_carries_its_wait() -> None:
    error = RateLimited(7)
    assert (error.code, error.retry_after, error.details) == ("rate_limited", 7, {"retry_after": 7})
