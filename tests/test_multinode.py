"""Two server processes sharing PostgreSQL and Redis, as a scaled-out deployment runs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import httpx
import pytest

from tests.support import (
    TWO_NODES,
    Directory,
    ServerProcess,
    eventually,
    realtime,
    send,
    send_anew,
)

pytestmark = [pytest.mark.anyio, *TWO_NODES]


async def test_events_cross_nodes_in_order_and_survive_a_node_dying(
    two_nodes: tuple[ServerProcess, ServerProcess, Directory],
) -> None:
    node_a, node_b, directory = two_nodes
    admin, bob, conversation = await directory.team()
    cid = conversation["id"]

    async with realtime(node_a, bob) as listener:
        await listener.subscribe(cid)
        # Sent through node B, seen on node A, in order.
        first = [await send(admin, cid, f"b{i}") for i in range(10)]
        got = [await listener.next_event() for _ in range(10)]
        assert [e["seq"] for e in got] == [m["seq"] for m in first]

        # Node A dies while messages keep arriving through node B; the client moves to
        # node B and resumes from the last seq it saw.
        total = 40

        async def keep_sending() -> None:
            for i in range(total):
                await send(admin, cid, f"after {i}")
                await asyncio.sleep(0.01)

        sender = asyncio.create_task(keep_sending())
        await asyncio.sleep(0.1)
        listener.url = node_b.ws_url
        node_a.kill()
        rest = [await listener.next_event(timeout=30) for _ in range(total)]
        await sender
        assert [e["data"]["body"] for e in rest] == [f"after {i}" for i in range(total)]
        assert listener.reconnects >= 1


async def test_removal_on_one_node_stops_delivery_on_the_other(
    two_nodes: tuple[ServerProcess, ServerProcess, Directory],
) -> None:
    node_a, _node_b, directory = two_nodes
    admin, bob, conversation = await directory.team()
    cid = conversation["id"]
    async with realtime(node_a, bob) as listener:
        await listener.subscribe(cid)
        await send(admin, cid, "hello")
        assert (await listener.next_event())["data"]["body"] == "hello"
        r = await admin.delete(f"/api/v1/conversations/{cid}/members/{bob.id}")
        assert r.status_code == 204
        removed = await listener.next_event()
        assert removed["kind"] == "member.removed"
        await eventually(lambda: listener._frames.qsize() >= 1)  # the inbox `removed`
        await send(admin, cid, "after removal")
        await asyncio.sleep(0.5)
        frames = [listener._frames.get_nowait() for _ in range(listener._frames.qsize())]
        assert all(f.get("type") != "event" for f in frames), frames


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(child) for child in f.read().split()]


async def test_one_server_with_worker_processes_delivers_to_every_socket(
    start_server: Callable[..., ServerProcess],
) -> None:
    """`hallway serve --workers 2`: sockets land on either process; every one of them gets
    every event, in order, whichever process took the send."""
    server = start_server("--workers", "2")
    assert server.process is not None
    await eventually(lambda: len(_children(server.process.pid)) >= 2, timeout=30)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        admin, bob, conversation = await Directory(http).team()
    cid = conversation["id"]
    async with contextlib.AsyncExitStack() as stack:
        listeners = [await stack.enter_async_context(realtime(server, bob)) for _ in range(8)]
        for listener in listeners:
            await listener.subscribe(cid)
        # A fresh HTTP connection per send, so the sends land on either process too.
        sent = [(await send_anew(server, admin, cid, f"m{i}"))["seq"] for i in range(20)]
        for listener in listeners:
            got = [(await listener.next_event())["seq"] for _ in range(len(sent))]
            assert got == sent
