"""One error shape for every failure, and no 500 for any input, however odd."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st

from hallway.api.app import create_app
from hallway.config import Settings
from tests.fuzz_support import (
    CONVERSATION_FIELDS,
    FUZZ,
    MESSAGE_FIELDS,
    Call,
    assert_handled,
    bodies_with,
    calling,
    signed_up,
    texts,
)
from tests.support import Directory, ServerProcess, error_of, named_fields, send, unique_email

pytestmark = pytest.mark.anyio


async def test_framework_errors_have_the_shape(directory: Directory) -> None:
    admin = await directory.company()
    client = directory.client
    error_of(await client.get("/api/v1/no-such-route"), 404, "not_found")
    error_of(await client.put("/api/v1/me"), 405, "method_not_allowed")
    error_of(await client.get("/api/v1/conversations"), 401, "unauthenticated")
    error_of(await admin.get("/api/v1/conversations", params={"limit": "x"}), 422)
    error_of(await admin.get("/api/v1/conversations/no-such-id"), 404, "not_found")


async def test_the_web_client_mount_leaves_unknown_api_requests_to_the_router(
    directory: Directory,
) -> None:
    """The client's files are served at /, but a path or method the API lacks is the API's
    own 404 or 405, not StaticFiles' answer."""
    admin = await directory.company()
    client = directory.client
    error_of(await client.post("/api/v1/no-such-route"), 404, "not_found")
    error_of(await client.get("/api/v1/index.html"), 404, "not_found")
    r = await admin.delete("/api/v1/conversations")
    error_of(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "GET, POST"
    r = await admin.put("/api/v1/conversations/some-id/messages")
    assert r.headers["allow"] == "GET, POST"
    r = await client.put("/healthz")
    error_of(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "GET, HEAD"
    error_of(await client.post("/"), 404, "not_found")
    page = await client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert (await client.head("/app.css")).status_code == 200


async def test_behind_a_path_prefix_the_web_client_mount_still_steps_aside(app: FastAPI) -> None:
    """Served under a proxy's prefix (ASGI root_path), the mount recognises the API's paths
    after the prefix, as the router does."""
    transport = httpx.ASGITransport(app=app, root_path="/chat")
    async with httpx.AsyncClient(transport=transport, base_url="http://hallway.test") as client:
        r = await client.get("/chat/api/v1/auth/login")  # the router's 405, not a file's 404
        error_of(r, 405, "method_not_allowed")
        assert r.headers["allow"] == "POST"
        page = await client.get("/chat/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")


async def test_validation_errors_list_every_field(directory: Directory) -> None:
    admin = await directory.company()
    r = await admin.post("/api/v1/conversations", json={"kind": "nope", "member_ids": "x", "z": 1})
    error = error_of(r, 422, "validation_error")
    assert named_fields(error) == {"kind", "member_ids", "z"}
    for entry in error["details"]["fields"]:
        assert set(entry) == {"field", "message"}
        assert entry["message"]


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"[]",
        b'"just a string"',
        b"null",
        b"[" * 5000 + b"]" * 5000,
        b'{"body": "\\ud800"}',
        b'{"body": "a\\u0000b"}',
        b'{"body": 1e999}',
    ],
    ids=["empty", "array", "string", "null", "deep", "surrogate", "nul", "huge-number"],
)
async def test_odd_bodies_get_a_client_error(directory: Directory, raw: bytes) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    conversation = await directory.conversation(admin, "direct", [bob])
    r = await admin.client.post(
        f"/api/v1/conversations/{conversation['id']}/messages",
        content=raw,
        headers={**admin.headers, "Content-Type": "application/json"},
    )
    assert r.status_code in (400, 422), r.text
    error_of(r, r.status_code)
    history = await admin.get(f"/api/v1/conversations/{conversation['id']}/messages")
    assert history.json()["messages"] == []


async def _oversized_bodies_are_refused(directory: Directory, chunked: bool) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    conversation = await directory.conversation(admin, "direct", [bob])
    url = f"/api/v1/conversations/{conversation['id']}/messages"
    raw = orjson.dumps({"body": "x" * 5000, "padding": "y" * 300_000})

    async def in_pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(raw), 16_384):
            yield raw[start : start + 16_384]

    r = await admin.client.post(
        url,
        content=in_pieces() if chunked else raw,
        headers={**admin.headers, "Content-Type": "application/json"},
    )
    error = error_of(r, 413, "too_large")
    assert error["details"]["limit"] == 256 * 1024
    history = await admin.get(url)
    assert history.json()["messages"] == []
    # The longest message the API allows, every character escaped, still fits.
    r = await admin.post(url, json={"body": "é" * 10_000})
    assert r.status_code == 201, r.text


async def test_request_bodies_over_the_limit_answer_413(directory: Directory) -> None:
    await _oversized_bodies_are_refused(directory, chunked=False)


async def test_declared_bodies_over_the_limit_answer_413_over_real_http(live: Directory) -> None:
    await _oversized_bodies_are_refused(live, chunked=False)


async def test_chunked_bodies_over_the_limit_answer_413_over_real_http(live: Directory) -> None:
    await _oversized_bodies_are_refused(live, chunked=True)


async def test_a_body_ends_at_its_content_length(live: Directory, server: ServerProcess) -> None:
    """The body limit counts nothing when Content-Length is under it: the server hands the
    app no more than that many bytes. Here a message and, right behind it on the same
    connection, a 300 KB body: the message is sent, and only the second request is 413."""
    admin = await live.company()
    bob = await live.colleague(admin, "Bob")
    conversation = await live.conversation(admin, "direct", [bob])
    url = f"/api/v1/conversations/{conversation['id']}/messages"

    def request(body: bytes) -> bytes:
        head = (
            f"POST {url} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {admin.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        big = orjson.dumps({"body": "x" * 5000, "padding": "y" * 300_000})
        writer.write(request(orjson.dumps({"body": "hello"})) + request(big))
        statuses = []
        for _ in range(2):
            head = await reader.readuntil(b"\r\n\r\n")
            statuses.append(int(head.split(b" ", 2)[1]))
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
    finally:
        writer.close()
    assert statuses == [201, 413]
    history = await admin.get(url)
    assert [m["body"] for m in history.json()["messages"]] == ["hello"]


NUL = "a\x00b"


async def test_nul_characters_are_refused_everywhere(directory: Directory) -> None:
    """PostgreSQL cannot store (or even compare) NUL in text; it must never reach a query."""
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    conversation = await directory.conversation(admin, "group", [bob], "Plans")
    cid = conversation["id"]
    client = directory.client
    signup = {
        "company_name": "Nul Co",
        "email": unique_email("nul"),
        "password": "correct horse battery",
        "display_name": "Nul",
    }
    for field in signup:
        r = await client.post("/api/v1/auth/signup", json={**signup, field: NUL})
        assert field in named_fields(error_of(r, 422)), field
    r = await client.post("/api/v1/auth/login", json={"email": NUL, "password": NUL})
    error_of(r, 422)
    r = await client.post(
        "/api/v1/auth/join",
        json={**signup, "invite_code": NUL},
    )
    error_of(r, 422)
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", f"/api/v1/conversations/{cid}/messages", {"body": NUL}),
        ("POST", f"/api/v1/conversations/{cid}/messages", {"body": "x", "thread_root_id": NUL}),
        ("POST", f"/api/v1/conversations/{cid}/messages", {"body": "x", "attachment_ids": [NUL]}),
        ("POST", "/api/v1/conversations", {"kind": "group", "member_ids": [NUL]}),
        ("POST", "/api/v1/conversations", {"kind": "channel", "title": NUL}),
        ("PATCH", f"/api/v1/conversations/{cid}", {"title": NUL}),
        ("POST", f"/api/v1/conversations/{cid}/members", {"user_ids": [NUL]}),
    ]
    for method, url, body in requests:
        r = await admin.client.request(method, url, json=body, headers=admin.headers)
        error_of(r, 422)
    for url in (
        "/api/v1/conversations/a%00b",
        "/api/v1/conversations/a%00b/messages",
        "/api/v1/conversations/a%00b/events",
        "/api/v1/messages/a%00b/thread",
    ):
        error_of(await admin.get(url), 404, "not_found")
    r = await admin.delete(f"/api/v1/conversations/{cid}/members/a%00b")
    error_of(r, 404, "not_found")
    r = await admin.get(
        "/api/v1/conversations", params={"cursor": "MjAyNi0wMS0wMVQwMDowMDowMCswMDowMHwA"}
    )
    error_of(r, 422, "invalid_cursor")
    history = await admin.get(f"/api/v1/conversations/{cid}/messages")
    assert history.json()["messages"] == []


async def test_overlong_ids_are_simply_not_found(directory: Directory) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    conversation = await directory.conversation(admin, "group", [bob], "Plans")
    message = await send(admin, conversation["id"], "hi")
    long_id = "x" * 5000
    error_of(await admin.get(f"/api/v1/conversations/{long_id}"), 404)
    error_of(await admin.get(f"/api/v1/messages/{long_id}/thread"), 404)
    r = await admin.post("/api/v1/conversations", json={"kind": "direct", "member_ids": [long_id]})
    error_of(r, 422)
    r = await admin.post(
        f"/api/v1/conversations/{conversation['id']}/messages",
        json={"body": "x", "thread_root_id": message["id"] + "x"},
    )
    error_of(r, 422)


# --- random input ---------------------------------------------------------------------------


@pytest.fixture
def call(settings: Settings) -> Iterator[Call]:
    with calling(create_app(settings)) as request:
        yield request


def test_random_message_bodies_never_crash(call: Call) -> None:
    headers, _, conversation = signed_up(call)
    url = f"/api/v1/conversations/{conversation}/messages"

    @FUZZ
    @given(body=bodies_with(MESSAGE_FIELDS))
    def check(body: Any) -> None:
        assert_handled(call("POST", url, json=body, headers=headers))

    check()


def test_random_conversation_bodies_never_crash(call: Call) -> None:
    headers, colleague, conversation = signed_up(call)

    @FUZZ
    @given(body=bodies_with(CONVERSATION_FIELDS), with_colleague=st.booleans())
    def check(body: Any, with_colleague: bool) -> None:
        if with_colleague and isinstance(body, dict) and isinstance(body.get("member_ids"), list):
            body["member_ids"].append(colleague)
        assert_handled(call("POST", "/api/v1/conversations", json=body, headers=headers))
        url = f"/api/v1/conversations/{conversation}"
        assert_handled(call("PATCH", url, json=body, headers=headers))

    check()


def test_random_path_and_query_values_never_crash(call: Call) -> None:
    headers, _, conversation = signed_up(call)
    base = f"/api/v1/conversations/{conversation}"

    @FUZZ
    @given(value=texts)
    def check(value: str) -> None:
        for url, params in (
            (f"{base}/messages", {"before": value}),
            ("/api/v1/conversations", {"cursor": value}),
            (f"{base}/events", {"after_seq": value}),
            (f"/api/v1/conversations/{quote(value, safe='')}", {}),
        ):
            assert_handled(call("GET", url, params=params, headers=headers))

    check()


def test_random_signup_bodies_never_crash(call: Call) -> None:
    @FUZZ
    @given(body=bodies_with(["company_name", "email", "password", "display_name"]))
    def check(body: Any) -> None:
        assert_handled(call("POST", "/api/v1/auth/signup", json=body))

    check()
