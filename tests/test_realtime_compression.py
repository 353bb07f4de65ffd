"""permessage-deflate on the realtime socket (HALLWAY_WS_COMPRESSION, on by default), over
real WebSockets to a real server process: what is negotiated, and that compressing and plain
clients of one conversation get the same events."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.support import (
    Directory,
    Person,
    ServerProcess,
    authenticated_socket,
    frames_of_types,
    send,
)

pytestmark = pytest.mark.anyio


async def _subscribed(
    server: ServerProcess, person: Person, conversation_id: str, compression: str | None
) -> ClientConnection:
    ws = await authenticated_socket(server, person, compression)
    await ws.send(orjson.dumps({"type": "subscribe", "conversation_id": conversation_id}).decode())
    while orjson.loads(await ws.recv())["type"] != "subscribed":
        pass
    return ws


async def _bodies(ws: ClientConnection, count: int) -> list[str]:
    return [frame["data"]["body"] for frame in await frames_of_types(ws, ("event",), count)]


@pytest.mark.every_server
async def test_deflating_and_plain_clients_get_the_same_events(
    live: Directory, server: ServerProcess
) -> None:
    admin, bob, conversation = await live.team()
    cid = conversation["id"]
    deflating = await _subscribed(server, bob, cid, "deflate")
    plain = await _subscribed(server, bob, cid, None)
    assert deflating.response is not None and plain.response is not None
    try:
        extensions = deflating.response.headers["Sec-WebSocket-Extensions"]
        assert extensions.startswith("permessage-deflate")
        assert "Sec-WebSocket-Extensions" not in plain.response.headers
        bodies = [f"{i} " + "hallway " * (i * 40) for i in range(6)]
        for body in bodies:
            await send(admin, cid, body)
        assert await _bodies(deflating, len(bodies)) == bodies
        assert await _bodies(plain, len(bodies)) == bodies
    finally:
        await deflating.close()
        await plain.close()


async def test_hallway_serve_keeps_no_deflate_context_on_either_side(
    live: Directory, server: ServerProcess
) -> None:
    """Whatever the client offered: one compressed frame serves every subscriber, and idle
    sockets hold no zlib state."""
    bob = await live.company()
    async with connect(server.ws_url, compression="deflate") as ws:
        assert ws.response is not None
        extensions = ws.response.headers["Sec-WebSocket-Extensions"]
        assert extensions.startswith("permessage-deflate")
        assert "server_no_context_takeover" in extensions
        assert "client_no_context_takeover" in extensions
        await ws.send(orjson.dumps({"type": "auth", "token": bob.token}).decode())
        assert orjson.loads(await ws.recv())["type"] == "ready"


async def test_compression_can_be_turned_off(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server(ws_compression="false")
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        admin = await Directory(http).company()
    async with connect(server.ws_url, compression="deflate") as ws:
        assert ws.response is not None
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
        await ws.send(orjson.dumps({"type": "auth", "token": admin.token}).decode())
        assert orjson.loads(await ws.recv())["type"] == "ready"
