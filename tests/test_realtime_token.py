"""A socket lives no longer than its token: it is closed with 4401 `token_expired` when the
token expires, unless the client sends a fresh one in an `auth` frame first."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.support import Directory, ServerProcess, send, short_lived_token

pytestmark = [pytest.mark.anyio, pytest.mark.every_server]

SHORT_TTL = 5


def _frame(fields: dict[str, Any]) -> str:
    return orjson.dumps(fields).decode()


async def _socket(server: ServerProcess, token: str) -> tuple[ClientConnection, dict[str, Any]]:
    ws = await connect(server.ws_url)
    await ws.send(_frame({"type": "auth", "token": token}))
    ready: dict[str, Any] = orjson.loads(await ws.recv())
    assert ready["type"] == "ready", ready
    return ws, ready


async def _frames_until_closed(ws: ClientConnection, timeout: float) -> list[dict[str, Any]]:
    frames = []
    async with asyncio.timeout(timeout):
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                frames.append(orjson.loads(raw))
    return frames


async def test_a_socket_is_closed_when_its_token_expires(
    live: Directory, server: ServerProcess, env: dict[str, str]
) -> None:
    _admin, bob, conversation = await live.team()
    token = short_lived_token(env, bob, SHORT_TTL)
    ws, ready = await _socket(server, token)
    assert 0 < ready["expires_in"] <= SHORT_TTL
    await ws.send(_frame({"type": "subscribe", "conversation_id": conversation["id"]}))
    opened = time.monotonic()
    await _frames_until_closed(ws, timeout=SHORT_TTL + 10)
    assert ws.close_code == 4401 and ws.close_reason == "token_expired"
    # Not before the token's time was up (the socket's own clock, with a second of slack
    # for the token's whole-second expiry).
    assert time.monotonic() - opened >= SHORT_TTL - 1.5
    # The HTTP API refuses the same token the same way.
    r = await live.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_expired"


async def test_a_fresh_token_keeps_the_socket_and_every_event(
    live: Directory, server: ServerProcess, env: dict[str, str]
) -> None:
    admin, bob, conversation = await live.team()
    cid = conversation["id"]
    ws, _ = await _socket(server, short_lived_token(env, bob, SHORT_TTL))
    await ws.send(_frame({"type": "subscribe", "conversation_id": cid}))
    async with asyncio.timeout(10):
        while orjson.loads(await ws.recv())["type"] != "subscribed":
            pass
    sent: list[int] = []

    async def keep_sending() -> None:
        # Across the first token's expiry and well past it.
        for i in range(int((SHORT_TTL + 3) / 0.25)):
            sent.append((await send(admin, cid, f"m{i}"))["seq"])
            await asyncio.sleep(0.25)

    sender = asyncio.create_task(keep_sending())
    await asyncio.sleep(SHORT_TTL - 2)
    await ws.send(_frame({"type": "auth", "token": short_lived_token(env, bob, 60)}))
    await sender
    frames: list[dict[str, Any]] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(2):
            while not frames or frames[-1].get("seq") != sent[-1]:
                frames.append(orjson.loads(await ws.recv()))
    assert ws.close_code is None, "the socket outlived its first token"
    authenticated = [f for f in frames if f["type"] == "authenticated"]
    assert len(authenticated) == 1 and 50 < authenticated[0]["expires_in"] <= 60
    assert [f["seq"] for f in frames if f["type"] == "event"] == sent
    await ws.close()


async def test_a_refused_fresh_token_leaves_the_old_deadline(
    live: Directory, server: ServerProcess, env: dict[str, str]
) -> None:
    admin, bob, _conversation = await live.team()
    ws, _ = await _socket(server, short_lived_token(env, bob, SHORT_TTL))
    # Someone else's token, an expired one, and no token at all: each refused, none closes.
    await ws.send(_frame({"type": "auth", "token": short_lived_token(env, admin, 60)}))
    await ws.send(_frame({"type": "auth", "token": short_lived_token(env, bob, -10)}))
    await ws.send(_frame({"type": "auth"}))
    await ws.send(_frame({"type": "ping"}))
    frames = await _frames_until_closed(ws, timeout=SHORT_TTL + 10)
    errors = [f for f in frames if f["type"] == "error"]
    assert [e["code"] for e in errors] == ["invalid_token", "token_expired", "invalid_frame"]
    assert any(f["type"] == "pong" for f in frames)
    assert not any(f["type"] == "authenticated" for f in frames)
    assert ws.close_code == 4401 and ws.close_reason == "token_expired"
