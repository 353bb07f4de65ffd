"""The socket itself, over real connections: what `hallway serve`'s own protocol
(hallway.api.realtime_protocol) does beyond the session, and what both servings share."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
from collections.abc import Callable

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.support import Directory, ServerProcess, authenticated_socket

pytestmark = pytest.mark.anyio


@pytest.mark.every_server
async def test_a_message_sent_in_fragments_is_one_frame(
    live: Directory, server: ServerProcess
) -> None:
    admin = await live.company()
    async with connect(server.ws_url) as ws:
        await ws.send(iter(['{"type": "auth", ', f'"token": "{admin.token}"', "}"]))
        assert orjson.loads(await ws.recv())["type"] == "ready"


@pytest.mark.every_server
async def test_a_stopping_server_closes_its_sockets_with_1012(
    live: Directory, server: ServerProcess
) -> None:
    ws = await authenticated_socket(server, await live.company())
    server.stop()
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012


async def test_hallway_serve_answers_404_on_any_other_websocket_path(
    server: ServerProcess,
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await connect(server.ws_url.replace("/realtime", "/elsewhere"))
    assert refused.value.response.status_code == 404


def _read_frame(sock: socket.socket) -> tuple[int, bytes]:
    """One unmasked server frame: (opcode, payload)."""
    first, second = sock.recv(2, socket.MSG_WAITALL)
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", sock.recv(2, socket.MSG_WAITALL))
    payload = sock.recv(length, socket.MSG_WAITALL) if length else b""
    return first & 0x0F, payload


async def test_a_client_that_never_answers_pings_is_dropped(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server(ws_heartbeat_seconds="0.5")
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        admin = await Directory(http).company()
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(
            f"GET /api/v1/realtime HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101 ")
        auth = orjson.dumps({"type": "auth", "token": admin.token})
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(auth))
        sock.sendall(bytes((0x81, 0x80 | 126)) + struct.pack("!H", len(auth)) + mask + masked)
        opcodes = []
        while True:  # the client reads but never answers: ready, a ping, then the close
            opcode, payload = await asyncio.to_thread(_read_frame, sock)
            opcodes.append(opcode)
            if opcode == 0x8:
                break
        assert opcodes[0] == 0x1 and 0x9 in opcodes
        assert struct.unpack("!H", payload[:2])[0] == 1011
        assert sock.recv(1) == b""  # and the server hung up
