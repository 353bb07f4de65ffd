"""The server's own stream under races: re-subscribing while messages stream in, and a
removal racing a subscribe. Checked on the wire (bare WebSocket clients), not through
RealtimeClient, which would repair a hole and hide it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection

from tests.support import (
    Directory,
    Person,
    ServerProcess,
    authenticated_socket,
    eventually,
    on_two_nodes,
    send,
)

pytestmark = pytest.mark.anyio

RESUBSCRIPTIONS = 200
REMOVAL_RACES = 100
SENDERS = 4


def _frame(fields: dict[str, Any]) -> str:
    return orjson.dumps(fields).decode()


async def _drain(ws: ClientConnection) -> None:
    """Read a socket until it closes, so that its server-side buffer never fills."""
    with contextlib.suppress(Exception):
        async for _ in ws:
            pass


@contextlib.asynccontextmanager
async def _following(server: ServerProcess, person: Person, cid: str) -> AsyncIterator[None]:
    """Another socket of `person` following the conversation on `server`, so the
    conversation's feed already exists there when the test subscribes."""
    ws = await authenticated_socket(server, person)
    await ws.send(_frame({"type": "subscribe", "conversation_id": cid}))
    reader = asyncio.create_task(_drain(ws))
    try:
        yield
    finally:
        await ws.close()
        await reader


@contextlib.asynccontextmanager
async def _sending(person: Person, cid: str, senders: int) -> AsyncIterator[list[int]]:
    """`senders` tasks sending messages to the conversation until the block ends; yields
    the list their stored seqs are added to."""
    seqs: list[int] = []
    stop = asyncio.Event()

    async def keep_sending(n: int) -> None:
        i = 0
        while not stop.is_set():
            seqs.append((await send(person, cid, f"sender {n} message {i}"))["seq"])
            i += 1

    tasks = [asyncio.create_task(keep_sending(n)) for n in range(senders)]
    try:
        yield seqs
    finally:
        stop.set()
        await asyncio.gather(*tasks)


@dataclass
class WireCheck:
    """Events of one conversation as one socket receives them, subscription by
    subscription: each must continue exactly where the last one left off."""

    expected: int = 1  # the next seq the current subscription must send
    received: int = 0
    holes: list[tuple[int, int]] = field(default_factory=list)  # (expected, got)
    repeats: list[int] = field(default_factory=list)

    def event(self, seq: int) -> None:
        self.received += 1
        if seq > self.expected:
            self.holes.append((self.expected, seq))
        elif seq < self.expected:
            self.repeats.append(seq)
        self.expected = seq + 1


async def _until(
    ws: ClientConnection, check: WireCheck, done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Read frames into `check` until one satisfies `done`; returns that frame."""
    async with asyncio.timeout(20):
        while True:
            frame: dict[str, Any] = orjson.loads(await ws.recv(decode=False))
            if frame["type"] == "event":
                check.event(frame["seq"])
            elif frame["type"] == "error":
                raise AssertionError(frame)
            if done(frame):
                return frame


async def _resubscribe_repeatedly(
    ws: ClientConnection, cid: str, times: int, check: WireCheck
) -> None:
    """Unsubscribe and subscribe again with after_seq = the last seq seen, `times` times,
    each time reading until the new subscription has sent an event (or a moment passed)."""
    for _ in range(times):
        # The pong comes after every frame of the old subscription.
        await ws.send(_frame({"type": "unsubscribe", "conversation_id": cid}))
        await ws.send(_frame({"type": "ping"}))
        await _until(ws, check, lambda f: f["type"] == "pong")
        after = check.expected - 1
        await ws.send(_frame({"type": "subscribe", "conversation_id": cid, "after_seq": after}))
        await _until(ws, check, lambda f: f["type"] == "subscribed")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.5):
                await _until(ws, check, lambda f: f["type"] == "event")


async def _resubscriptions_leave_no_hole(listen_on: ServerProcess, http: httpx.AsyncClient) -> None:
    """`http` speaks to the node the messages are sent through."""
    admin, bob, conversation = await Directory(http).team()
    cid = conversation["id"]
    ws = await authenticated_socket(listen_on, bob)
    check = WireCheck()
    try:
        async with _following(listen_on, admin, cid):
            await send(admin, cid, "before")
            await ws.send(_frame({"type": "subscribe", "conversation_id": cid, "after_seq": 0}))
            await _until(ws, check, lambda f: f["type"] == "subscribed")
            async with _sending(admin, cid, SENDERS) as seqs:
                await _resubscribe_repeatedly(ws, cid, RESUBSCRIPTIONS, check)
            last = max(seqs)
            await _until(ws, check, lambda f: f["type"] == "event" and f["seq"] == last)
    finally:
        await ws.close()
    assert len(seqs) > RESUBSCRIPTIONS // 4, "the senders must keep the stream busy"
    assert check.holes == [], f"{len(check.holes)} holes on the wire: {check.holes[:10]}"
    assert check.repeats == []
    assert check.expected == last + 1


@pytest.mark.every_server
async def test_resubscribing_with_after_seq_under_concurrent_senders_leaves_no_hole(
    live: Directory, server: ServerProcess
) -> None:
    """The conversation is already followed on the node, so its feed dispatches frames
    while each new subscription reads the log."""
    await _resubscriptions_leave_no_hole(server, live.client)


@on_two_nodes
async def test_resubscribing_while_the_messages_come_from_the_other_node_leaves_no_hole(
    two_nodes: tuple[ServerProcess, ServerProcess, Directory],
) -> None:
    node_a, _node_b, directory_b = two_nodes
    await _resubscriptions_leave_no_hole(node_a, directory_b.client)


async def _removal_races(
    bob_node: ServerProcess, admin_node: ServerProcess, http: httpx.AsyncClient
) -> None:
    """REMOVAL_RACES times: Bob subscribes to a new group while the admin removes him; then
    the admin sends a message and Bob types there. Bob must get nothing of the group after
    his removal's seq, and the admin must never see him typing after it."""
    directory = Directory(http)
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    fence = await directory.conversation(admin, "group", [bob], title="fence")
    bob_ws = await authenticated_socket(bob_node, bob)
    admin_ws = await authenticated_socket(admin_node, admin)
    bob_frames: list[dict[str, Any]] = []
    admin_frames: list[dict[str, Any]] = []

    async def record(ws: ClientConnection, into: list[dict[str, Any]]) -> None:
        with contextlib.suppress(Exception):
            async for raw in ws:
                into.append(orjson.loads(raw))

    readers = [
        asyncio.create_task(record(bob_ws, bob_frames)),
        asyncio.create_task(record(admin_ws, admin_frames)),
    ]
    removal_seqs: dict[str, int] = {}
    try:
        for i in range(REMOVAL_RACES):
            group = await directory.conversation(admin, "group", [bob], title=f"race {i}")
            cid = group["id"]
            await admin_ws.send(_frame({"type": "subscribe", "conversation_id": cid}))
            subscribe = bob_ws.send(
                _frame({"type": "subscribe", "conversation_id": cid, "after_seq": 0})
            )
            remove = admin.delete(f"/api/v1/conversations/{cid}/members/{bob.id}")
            _, removed = await asyncio.gather(subscribe, remove)
            assert removed.status_code == 204, removed.text
            events = await admin.get(f"/api/v1/conversations/{cid}/events?after_seq=0")
            [removal] = [e for e in events.json()["events"] if e["kind"] == "member.removed"]
            removal_seqs[cid] = removal["seq"]
            await bob_ws.send(_frame({"type": "typing", "conversation_id": cid}))
            await send(admin, cid, "after the removal")
        # Bob's and the admin's last frames: everything before them has been delivered.
        marker = await send(admin, fence["id"], "fence")
        fence_from_marker = {
            "type": "subscribe",
            "conversation_id": fence["id"],
            "after_seq": marker["seq"],
        }
        await bob_ws.send(_frame(fence_from_marker))
        await admin_ws.send(_frame(fence_from_marker))
        await send(admin, fence["id"], "fence again")
        for frames in (bob_frames, admin_frames):
            await eventually(
                lambda frames=frames: any(
                    f["type"] == "event"
                    and f["conversation_id"] == fence["id"]
                    and f["seq"] > marker["seq"]
                    for f in frames
                ),
                timeout=20,
            )
    finally:
        await bob_ws.close()
        await admin_ws.close()
        await asyncio.gather(*readers)

    leaks = [
        f
        for f in bob_frames
        if f.get("conversation_id") in removal_seqs
        and f["type"] in ("event", "inbox", "typing")
        and f.get("seq", 0) > removal_seqs[f["conversation_id"]]
    ]
    assert leaks == [], f"{len(leaks)} frames after the removal reached Bob: {leaks[:5]}"
    bob_typing = [
        f
        for f in admin_frames
        if f["type"] == "typing" and f["user_id"] == bob.id and f["conversation_id"] in removal_seqs
    ]
    assert bob_typing == [], "Bob's typing after his removal reached the admin"
    # Each subscribe was answered once, either way: subscribed (and told of the removal
    # later) or refused. On the node that removed him, his typing after the removal was
    # refused too; another node may have let it out before it learned of the removal (the
    # admin's node then dropped it, as checked above).
    same_node = bob_node is admin_node
    for cid in removal_seqs:
        answers = [
            f
            for f in bob_frames
            if f.get("conversation_id") == cid and f["type"] in ("subscribed", "error")
        ]
        assert len(answers) == 2 if same_node else 1 <= len(answers) <= 2, answers
        if same_node:
            assert answers[1]["type"] == "error" and answers[1]["code"] == "not_found"
        if answers[0]["type"] == "subscribed":
            told = [
                f
                for f in bob_frames
                if f.get("conversation_id") == cid
                and (f.get("kind") == "member.removed" or f.get("kind") == "removed")
            ]
            assert told, f"Bob subscribed to {cid} but was never told of his removal"
        else:
            assert answers[0]["code"] == "not_found", answers


@pytest.mark.every_server
async def test_a_removal_racing_a_subscribe_always_wins(
    live: Directory, server: ServerProcess
) -> None:
    await _removal_races(server, server, live.client)


@on_two_nodes
async def test_a_removal_on_another_node_racing_a_subscribe_always_wins(
    two_nodes: tuple[ServerProcess, ServerProcess, Directory],
) -> None:
    node_a, node_b, directory_b = two_nodes
    await _removal_races(node_a, node_b, directory_b.client)
