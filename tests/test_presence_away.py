"""Presence `away`: a client says its user is idle over its socket; the person is away
when every socket of theirs, on every process, says so."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from tests.support import (
    Directory,
    Person,
    ServerProcess,
    authenticated_socket,
    frames_of_types,
    on_two_nodes,
)

pytestmark = pytest.mark.anyio


async def say(ws: Any, status: str) -> None:
    """presence.set, handled once the pong that follows it comes back (a socket's frames
    are handled in order)."""
    await ws.send(orjson.dumps({"type": "presence.set", "status": status}).decode())
    await ws.send(orjson.dumps({"type": "ping"}).decode())
    await frames_of_types(ws, ["pong"], 1)


async def announced(ws: Any, user_id: str, status: str) -> None:
    """Wait until this status is announced for this person. Announcements come in batches
    from each process, and a process may repeat a status that did not change (it announces
    the person's status everywhere whenever its own part changes), so what each one said
    in between is not asserted: GET /users is, after each step."""
    async with asyncio.timeout(10):
        while True:
            (frame,) = await frames_of_types(ws, ["presence"], 1)
            if {"user_id": user_id, "status": status} in frame["users"]:
                return


async def listed(person: Person, user_id: str) -> str:
    users = (await person.get("/api/v1/users")).json()["users"]
    return str(next(u for u in users if u["id"] == user_id)["presence"])


async def test_away_when_every_socket_says_so(live: Directory, server: ServerProcess) -> None:
    admin = await live.company()
    bob = await live.colleague(admin, "Bob")
    watcher = await authenticated_socket(server, admin)
    first = await authenticated_socket(server, bob)
    second = await authenticated_socket(server, bob)
    try:
        await announced(watcher, bob.id, "online")
        await say(first, "away")
        # The other tab is still active: Bob stays online.
        assert await listed(admin, bob.id) == "online"
        await say(second, "away")
        await announced(watcher, bob.id, "away")
        assert await listed(admin, bob.id) == "away"

        # One tab comes back: online again; the last one closing: offline.
        await say(first, "active")
        await announced(watcher, bob.id, "online")
        await first.close()
        await announced(watcher, bob.id, "away")  # the tab left is idle
        await second.close()
        await announced(watcher, bob.id, "offline")
        assert await listed(admin, bob.id) == "offline"
    finally:
        await watcher.close()
        await first.close()
        await second.close()


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "presence.set"},
        {"type": "presence.set", "status": "busy"},
        {"type": "presence.set", "status": 1},
    ],
)
async def test_a_bad_presence_frame_is_refused(
    live: Directory, server: ServerProcess, frame: dict[str, Any]
) -> None:
    admin = await live.company()
    ws = await authenticated_socket(server, admin)
    try:
        await ws.send(orjson.dumps(frame).decode())
        (error,) = await frames_of_types(ws, ["error"], 1)
        assert error["code"] == "invalid_frame"
        assert await listed(admin, admin.id) == "online"
    finally:
        await ws.close()


@on_two_nodes
async def test_away_across_two_nodes(
    two_nodes: tuple[ServerProcess, ServerProcess, Directory],
) -> None:
    node_a, node_b, directory = two_nodes
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    watcher = await authenticated_socket(node_a, admin)
    on_a = await authenticated_socket(node_a, bob)
    on_b = await authenticated_socket(node_b, bob)
    try:
        await say(on_a, "away")
        # Bob's socket on node B is active: node A must not call him away.
        assert await listed(admin, bob.id) == "online"
        await say(on_b, "away")
        await announced(watcher, bob.id, "away")
        assert await listed(admin, bob.id) == "away"
        await say(on_b, "active")
        await announced(watcher, bob.id, "online")
        assert await listed(admin, bob.id) == "online"
    finally:
        for ws in (watcher, on_a, on_b):
            await ws.close()
