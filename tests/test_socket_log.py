"""One JSON log line per realtime socket when it ends, from a real `hallway serve`: who, how
long, frames each way, and the close; never the token or a message's body."""

from __future__ import annotations

import asyncio
import tempfile
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect

from tests.support import (
    Directory,
    ServerProcess,
    authenticated_socket,
    frames_of_types,
)

pytestmark = pytest.mark.anyio

BODY = "a body the log must never hold"


async def test_each_socket_ends_with_one_line_without_its_token(env: dict[str, str]) -> None:
    with tempfile.TemporaryFile() as stderr:
        server = ServerProcess(
            {**env, "HALLWAY_LOG_FORMAT": "json"}, args=("--log-level", "info"), stderr=stderr
        )
        server.start()
        try:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
                admin, bob, conversation = await Directory(http).team()
                cid = conversation["id"]
                ws = await authenticated_socket(server, bob)
                await ws.send(orjson.dumps({"type": "subscribe", "conversation_id": cid}).decode())
                await frames_of_types(ws, ["subscribed"], 1)
                r = await admin.post(f"/api/v1/conversations/{cid}/messages", json={"body": BODY})
                assert r.status_code == 201
                await frames_of_types(ws, ["event"], 1)
                await ws.close(1000, "bye")
                # Closed by the server: the first frame is not an auth frame.
                async with connect(server.ws_url) as refused:
                    await refused.send('{"type": "ping"}')
                    await refused.wait_closed()
                    assert refused.close_code == 4401
            # Both lines are written when the server sees each socket go.
            lines = await _eventually_lines(stderr, 2)
        finally:
            server.stop()
        stderr.seek(0)
        everything = stderr.read().decode()
    assert bob.token not in everything and admin.token not in everything
    assert BODY not in everything
    by_client, by_server = lines
    assert by_client["level"] == "info"
    assert by_client["user_id"] == bob.id and by_client["company_id"] == bob.company_id
    assert (by_client["close_code"], by_client["closed_by"]) == (1000, "client")
    assert by_client["close_reason"] == ""  # the client's own words are not logged
    assert by_client["frames_in"] == 2  # auth, subscribe
    assert by_client["frames_out"] >= 3  # ready, subscribed, the event (presence perhaps)
    assert by_client["duration_ms"] > 0
    assert by_server["user_id"] is None and by_server["company_id"] is None
    assert (by_server["close_code"], by_server["closed_by"]) == (4401, "server")
    assert by_server["close_reason"] == "the first frame must be auth {token}"
    assert (by_server["frames_in"], by_server["frames_out"]) == (1, 0)
    assert by_client["socket_id"] != by_server["socket_id"]


async def _eventually_lines(stderr: Any, count: int) -> list[dict[str, Any]]:
    """The server's `hallway.sockets` lines, once there are `count` of them."""
    for _ in range(250):
        stderr.seek(0)
        lines = [orjson.loads(line) for line in stderr.read().splitlines() if line.startswith(b"{")]
        sockets = [line for line in lines if line["logger"] == "hallway.sockets"]
        if len(sockets) >= count:
            return sockets
        await asyncio.sleep(0.02)
    raise AssertionError(f"fewer than {count} socket lines")
