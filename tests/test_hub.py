"""The hub's ordering rules, driven directly: lost and reordered broker frames."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from fastapi import FastAPI

from hallway.domain.access import read_member_conversation_ids
from hallway.domain.actor import Actor
from hallway.realtime import presence_changes
from hallway.realtime.connection import Connection
from hallway.realtime.hub import Hub
from tests.support import Directory, Person, counted, eventually, send

pytestmark = pytest.mark.anyio


class RecordingSocket:
    """Stands in for the socket's transport (a FrameSink): records what the connection
    writes."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []

    def write_text(self, frame: str) -> None:
        self.frames.append(orjson.loads(frame))

    def buffered_bytes(self) -> int:
        return 0

    async def drained(self) -> None:
        return None

    def send_close(self, code: int, reason: str) -> None:
        return None

    def events(self) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == "event"]


def _gap_fills() -> float:
    """Events read back from the log for lost broker frames, either way."""
    return counted("hallway_gap_fill_events_total", cause="gap") + counted(
        "hallway_gap_fill_events_total", cause="check"
    )


async def _listener(app: FastAPI, person: Person) -> tuple[Connection, RecordingSocket]:
    hub: Hub = app.state.hub
    socket = RecordingSocket()
    conn = Connection(socket, Actor(person.id, person.company_id, "member"), 65536)
    await hub.attach(conn, GREETING)
    return conn, socket


GREETING = orjson.dumps({"type": "ready"}).decode()


async def _subscribed_team(
    app: FastAPI, directory: Directory
) -> tuple[Person, str, RecordingSocket]:
    """A group whose member Bob follows it through the hub; returns admin, id, Bob's socket."""
    admin, bob, conversation = await directory.team()
    cid = conversation["id"]
    conn, socket = await _listener(app, bob)
    await app.state.hub.subscribe(conn, cid, None)
    return admin, cid, socket


async def test_a_lost_publish_is_filled_from_the_log(
    app: FastAPI, directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin, cid, socket = await _subscribed_team(app, directory)
    real_publish = app.state.broker.publish
    dropped: list[str] = []

    async def lossy_publish(topic: str, frame: str) -> None:
        if not dropped and '"message.created"' in frame:
            dropped.append(frame)  # the broker loses this one
            return
        await real_publish(topic, frame)

    monkeypatch.setattr(app.state.broker, "publish", lossy_publish)
    filled = _gap_fills()
    first = await send(admin, cid, "lost on the wire")
    second = await send(admin, cid, "arrives")
    await eventually(lambda: len(socket.events()) == 2)
    assert dropped
    assert [e["seq"] for e in socket.events()] == [first["seq"], second["seq"]]
    assert [e["data"]["body"] for e in socket.events()] == ["lost on the wire", "arrives"]
    # Read back from the log once (by the gap filler, unless the periodic check beat it).
    assert _gap_fills() - filled == 1


async def test_a_lost_last_publish_is_caught_up_by_the_feed_check(
    app: FastAPI, directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing follows the lost frame, so no gap shows: the periodic check against the
    conversations' last_seq finds it."""
    admin, cid, socket = await _subscribed_team(app, directory)
    real_publish = app.state.broker.publish
    first = await send(admin, cid, "arrives")
    await eventually(lambda: len(socket.events()) == 1)

    async def losing_publish(topic: str, frame: str) -> None:
        return None  # the broker loses everything from here on

    monkeypatch.setattr(app.state.broker, "publish", losing_publish)
    checked = counted("hallway_gap_fill_events_total", cause="check")
    last = await send(admin, cid, "lost, and nothing after it")
    await asyncio.sleep(0.1)
    assert len(socket.events()) == 1
    await app.state.hub.check_feeds()  # what the hub runs every FEED_CHECK_SECONDS
    assert [e["seq"] for e in socket.events()] == [first["seq"], last["seq"]]
    assert counted("hallway_gap_fill_events_total", cause="check") - checked == 1
    # A feed that is up to date is left alone: nothing is sent twice.
    monkeypatch.setattr(app.state.broker, "publish", real_publish)
    await app.state.hub.check_feeds()
    assert len(socket.events()) == 2


async def test_the_broker_coming_back_catches_feeds_up_at_once(
    app: FastAPI, directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a broker loses while it is away is read from the log as soon as it is back
    (its `reconnected` hook), not at the next periodic check."""
    admin, cid, socket = await _subscribed_team(app, directory)
    real_publish = app.state.broker.publish

    async def losing_publish(topic: str, frame: str) -> None:
        return None

    monkeypatch.setattr(app.state.broker, "publish", losing_publish)
    lost = await send(admin, cid, "published while the broker was away")
    monkeypatch.setattr(app.state.broker, "publish", real_publish)
    assert socket.events() == []
    app.state.broker.reconnected()
    await eventually(lambda: len(socket.events()) == 1, timeout=2)
    assert socket.events()[0]["seq"] == lost["seq"]


async def test_frames_out_of_order_are_delivered_in_seq_order(
    app: FastAPI, directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin, cid, socket = await _subscribed_team(app, directory)
    real_publish = app.state.broker.publish
    held: list[tuple[str, str]] = []

    async def reordering_publish(topic: str, frame: str) -> None:
        # Hold the first message back and release it after the second, as two nodes
        # publishing at nearly the same moment can do.
        if '"message.created"' in frame and not held:
            held.append((topic, frame))
            return
        await real_publish(topic, frame)
        while held:
            await real_publish(*held.pop())

    monkeypatch.setattr(app.state.broker, "publish", reordering_publish)
    await send(admin, cid, "one")
    await send(admin, cid, "two")
    await eventually(lambda: len(socket.events()) == 2)
    assert [e["data"]["body"] for e in socket.events()] == ["one", "two"]


async def test_a_replay_ahead_of_the_feed_is_not_sent_again_when_the_feed_catches_up(
    app: FastAPI, directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A subscriber's replay can read events whose frames have not reached this process yet
    (published by another one, still in flight). When they arrive, the feed dispatches them
    to everyone else, and must skip this subscriber, which has them already."""
    admin, cid, bob_socket = await _subscribed_team(app, directory)
    before = await send(admin, cid, "delivered live")
    await eventually(lambda: len(bob_socket.events()) == 1)
    real_publish = app.state.broker.publish
    in_flight: list[tuple[str, str]] = []

    async def delayed_publish(topic: str, frame: str) -> None:
        in_flight.append((topic, frame))

    monkeypatch.setattr(app.state.broker, "publish", delayed_publish)
    late = [await send(admin, cid, f"in flight {k}") for k in range(2)]
    assert len(in_flight) == 2 and len(bob_socket.events()) == 1

    conn, socket = await _listener(app, admin)
    await app.state.hub.subscribe(conn, cid, before["seq"])
    late_seqs = [m["seq"] for m in late]
    assert [e["seq"] for e in socket.events()] == late_seqs  # read from the log

    for topic, frame in in_flight:  # the frames arrive after all
        await real_publish(topic, frame)
    # One dispatch writes to every subscriber of the feed: once Bob has the frames, the
    # other subscriber has been passed them too.
    await eventually(lambda: len(bob_socket.events()) == 3)
    assert [e["seq"] for e in bob_socket.events()] == [before["seq"], *late_seqs]
    assert [e["seq"] for e in socket.events()] == late_seqs


async def test_the_greeting_waits_until_the_connection_hears_its_inbox(
    app: FastAPI, directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client reloads its conversation list on `ready`: a message committed after the
    greeting must reach the inbox, however long attaching takes after the greeting's
    conversations were read."""
    admin, bob, conversation = await directory.team()

    async def slow_read(*args: Any) -> list[str]:
        ids = await read_member_conversation_ids(*args)
        await asyncio.sleep(0.3)  # a busy database: the join comes late
        return ids

    monkeypatch.setattr("hallway.realtime.hub.read_member_conversation_ids", slow_read)
    socket = RecordingSocket()
    conn = Connection(socket, Actor(bob.id, bob.company_id, "member"), 65536)
    attaching = asyncio.create_task(app.state.hub.attach(conn, GREETING))
    await eventually(lambda: socket.frames)
    sent = await send(admin, conversation["id"], "right after ready")
    await attaching

    def inbox() -> list[dict[str, Any]]:
        return [f for f in socket.frames if f["type"] == "inbox"]

    await eventually(inbox)
    assert socket.frames[0] == {"type": "ready"}
    assert inbox()[0]["message_id"] == sent["id"]
    conn.closed = True
    await app.state.hub.detach(conn)


async def test_presence_changes_are_announced_in_batches(
    app: FastAPI, directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A window wide enough for nine sockets to attach in, however busy the machine.
    monkeypatch.setattr(presence_changes, "PRESENCE_BATCH_SECONDS", 2.0)
    admin = await directory.company()
    colleagues = [await directory.colleague(admin, f"P{i}") for i in range(8)]
    watcher, watched = await _listener(app, admin)
    joined = [await _listener(app, person) for person in colleagues]

    def announced() -> list[dict[str, Any]]:
        return [f for f in watched.frames if f["type"] == "presence"]

    # Everyone came online within one batch window: one frame names them all.
    await eventually(lambda: announced())
    await asyncio.sleep(0.4)
    (frame,) = announced()
    # ...the watcher included, who came online in the same window.
    everyone = [admin, *colleagues]
    assert sorted(u["user_id"] for u in frame["users"]) == sorted(p.id for p in everyone)
    assert {u["status"] for u in frame["users"]} == {"online"}
    for conn, _socket in [*joined, (watcher, watched)]:
        conn.closed = True
        await app.state.hub.detach(conn)
