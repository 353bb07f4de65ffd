"""Realtime over real WebSockets to a real server process: delivery, resume, access."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from hallway.client import RealtimeClient
from tests.support import (
    METRICS_TOKEN,
    SECRET,
    Directory,
    ServerProcess,
    eventually,
    realtime,
    scrape,
    send,
    value,
)

pytestmark = [pytest.mark.anyio, pytest.mark.every_server]


async def collect_events(client: RealtimeClient, count: int, timeout: float = 15) -> list[Any]:
    return [await client.next_event(timeout) for _ in range(count)]


async def frames_until(
    client: RealtimeClient, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10
) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            frame = await client.next_frame(timeout)
            if predicate(frame):
                return frame


async def test_live_delivery_in_order(live: Directory, server: ServerProcess) -> None:
    admin, bob, conversation = await live.team()
    async with realtime(server, bob) as client:
        await client.subscribe(conversation["id"])
        await frames_until(client, lambda f: f["type"] == "subscribed")
        sent = [await send(admin, conversation["id"], f"m{i}") for i in range(5)]
        events = await collect_events(client, 5)
    assert [e["seq"] for e in events] == [m["seq"] for m in sent]
    assert [e["data"]["body"] for e in events] == [f"m{i}" for i in range(5)]
    assert {e["kind"] for e in events} == {"message.created"}


async def test_subscribe_after_seq_replays_then_continues_live_while_sending(
    live: Directory, server: ServerProcess
) -> None:
    admin, bob, conversation = await live.team()
    cid = conversation["id"]
    for i in range(30):
        await send(admin, cid, f"before {i}")
    total = 80

    async def keep_sending() -> None:
        for i in range(30, total):
            await send(admin, cid, f"during {i}")

    async with realtime(server, bob) as client:
        sender = asyncio.create_task(keep_sending())
        await client.subscribe(cid, after_seq=0)
        events = await collect_events(client, total + 1)  # + the member.added at seq 1
        await sender
    assert [e["seq"] for e in events] == list(range(1, total + 2))


async def test_resume_after_dropped_connection_loses_nothing(
    live: Directory, server: ServerProcess
) -> None:
    admin, bob, conversation = await live.team()
    cid = conversation["id"]
    total = 60
    async with realtime(server, bob) as client:
        await client.subscribe(cid)
        await frames_until(client, lambda f: f["type"] == "subscribed")

        async def keep_sending() -> None:
            for i in range(total):
                await send(admin, cid, f"m{i}")
                if i in (15, 40):
                    await eventually(client.is_connected)
                    await client.drop()

        sender = asyncio.create_task(keep_sending())
        events = await collect_events(client, total, timeout=30)
        await sender
        assert client.reconnects >= 2
    bodies = [e["data"]["body"] for e in events]
    assert bodies == [f"m{i}" for i in range(total)]
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs))


async def test_outsiders_get_the_same_error_as_for_a_missing_conversation(
    live: Directory, server: ServerProcess
) -> None:
    admin = await live.company()
    colleague = await live.colleague(admin, "Nosy")
    stranger = await live.company("Elsewhere")
    private = await live.conversation(
        admin, "group", [await live.colleague(admin, "Bob")], title="private"
    )
    for person in (colleague, stranger):
        async with realtime(server, person) as client:
            await client.subscribe(private["id"])
            refused = await frames_until(client, lambda f: f["type"] == "error")
            await client.subscribe("00000000-0000-0000-0000-000000000000")
            missing = await frames_until(client, lambda f: f["type"] == "error")
        assert refused["code"] == missing["code"] == "not_found"
        assert refused["message"] == missing["message"]


async def test_bad_tokens_close_with_unauthenticated_code(
    live: Directory, server: ServerProcess, env: dict[str, str]
) -> None:
    admin = await live.company()
    # The admin's own token, re-signed with an expiry in the past.
    claims = jwt.decode(admin.token, SECRET, algorithms=["HS256"])
    claims["exp"] = int(time.time()) - 10
    expired = jwt.encode(claims, SECRET, algorithm="HS256")
    cases = [
        (orjson.dumps({"type": "auth", "token": "garbage"}).decode(), "invalid_token"),
        (orjson.dumps({"type": "auth", "token": expired}).decode(), "token_expired"),
        (orjson.dumps({"type": "subscribe", "conversation_id": "x"}).decode(), None),
        ("not json", None),
    ]
    for first, reason in cases:
        async with connect(server.ws_url) as ws:
            await ws.send(first)
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            assert ws.close_code == 4401
            if reason is not None:
                assert ws.close_reason == reason


async def _authenticated(server: ServerProcess, person: Any) -> Any:
    ws = await connect(server.ws_url)
    await ws.send(orjson.dumps({"type": "auth", "token": person.token}).decode())
    assert orjson.loads(await ws.recv())["type"] == "ready"
    return ws


async def test_frames_that_are_not_json_text_close_with_protocol_error(
    live: Directory, server: ServerProcess
) -> None:
    admin = await live.company()
    for bad in (b"\x00binary", "not json", '["a list"]', '{"no": "type"}'):
        ws = await _authenticated(server, admin)
        await ws.send(bad)
        with pytest.raises(ConnectionClosed):
            while True:  # presence frames may come first
                await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code == 4000


async def test_an_oversized_client_frame_closes_with_message_too_big(
    live: Directory, server: ServerProcess
) -> None:
    admin = await live.company()
    ws = await _authenticated(server, admin)
    await ws.send(orjson.dumps({"type": "ping", "padding": "x" * 70_000}).decode())
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), 5)
    assert ws.close_code == 1009


async def test_a_burst_of_client_frames_is_answered_in_order(
    live: Directory, server: ServerProcess
) -> None:
    """More frames than the session holds before it stops reading the socket: none lost,
    none reordered, fragmented ones included."""
    admin = await live.company()
    ws = await _authenticated(server, admin)
    try:
        burst = 200
        for i in range(burst):
            frame = orjson.dumps({"type": "unknown-" + str(i)}).decode()
            if i % 50 == 0:  # sent as three fragments
                await ws.send([frame[:5], frame[5:9], frame[9:]])
            else:
                await ws.send(frame)
        errors: list[str] = []
        async with asyncio.timeout(15):
            while len(errors) < burst:
                frame = orjson.loads(await ws.recv())
                if frame["type"] == "error":
                    errors.append(frame["message"])
        assert errors == [f"unknown frame type 'unknown-{i}'" for i in range(burst)]
    finally:
        await ws.close()


async def test_removed_member_stops_receiving_at_once(
    live: Directory, server: ServerProcess
) -> None:
    admin = await live.company()
    bob = await live.colleague(admin, "Bob")
    carol = await live.colleague(admin, "Carol")
    conversation = await live.conversation(admin, "group", [bob, carol], title="team")
    cid = conversation["id"]
    async with realtime(server, bob) as bob_rt, realtime(server, carol) as carol_rt:
        for client in (bob_rt, carol_rt):
            await client.subscribe(cid)
            await frames_until(client, lambda f: f["type"] == "subscribed")
        r = await admin.delete(f"/api/v1/conversations/{cid}/members/{bob.id}")
        assert r.status_code == 204
        removed = await frames_until(bob_rt, lambda f: f["type"] == "inbox")
        assert removed["kind"] == "removed" and removed["conversation_id"] == cid
        await send(admin, cid, "secret plans")
        seen_by_carol = await collect_events(carol_rt, 2)
        assert [e["kind"] for e in seen_by_carol] == ["member.removed", "message.created"]
        await asyncio.sleep(0.3)
        leaked = []
        while not bob_rt._frames.empty():
            leaked.append(bob_rt._frames.get_nowait())
        assert not [f for f in leaked if f.get("data", {}).get("body") == "secret plans"]
        await bob_rt.subscribe(cid)
        refused = await frames_until(bob_rt, lambda f: f["type"] == "error")
        assert refused["code"] == "not_found"


def _small_socket(server: ServerProcess) -> socket.socket:
    """A client socket with a tiny receive buffer, so a client that stops reading pushes
    back on the server quickly instead of after megabytes of kernel buffering."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    return sock


async def test_slow_consumer_is_closed_and_others_unaffected(
    live: Directory, start_server: Callable[..., ServerProcess]
) -> None:
    server = start_server(ws_send_buffer_bytes="65536", metrics_token=METRICS_TOKEN)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        directory = Directory(http)
        admin, bob, conversation = await directory.team()
        cid = conversation["id"]
        # Random hex: deflate (on by default) can't shrink it much below half.
        big = os.urandom(4500).hex()
        async with (
            realtime(server, bob) as healthy,
            # No keepalive of its own: its pings would wait behind the backlog it doesn't
            # read, and on a loaded machine it would give up (1006) before the server.
            connect(
                server.ws_url,
                max_queue=1,
                max_size=2**24,
                sock=_small_socket(server),
                ping_interval=None,
            ) as stalled,
        ):
            await stalled.send(orjson.dumps({"type": "auth", "token": bob.token}).decode())
            await stalled.recv()  # ready
            await stalled.send(orjson.dumps({"type": "subscribe", "conversation_id": cid}).decode())
            await healthy.subscribe(cid)
            total = 600
            sends = [send(admin, cid, f"{i} {big}") for i in range(total)]
            for chunk in range(0, total, 20):
                await asyncio.gather(*sends[chunk : chunk + 20])
            events = await collect_events(healthy, total, timeout=30)
            assert len(events) == total

            # The stalled client's queue overflowed: it was closed with the documented code.
            async def closed() -> bool:
                try:
                    while True:
                        await asyncio.wait_for(stalled.recv(), 1)
                except Exception:
                    return True

            await closed()
            assert stalled.close_code == 4008
            # Counted; more than once under plain uvicorn, where the healthy client's frames
            # wait in the ASGI route's queue too and it is closed and resumes as well.
            samples = await scrape(server.base_url)
            assert value(samples, "hallway_realtime_slow_consumer_closes_total") >= 1
        # ...and a fresh connection resumes from the log with nothing lost.
        async with realtime(server, bob) as resumed:
            await resumed.subscribe(cid, after_seq=1)
            replayed = await collect_events(resumed, total, timeout=30)
        assert [e["seq"] for e in replayed] == list(range(2, total + 2))


async def test_typing_presence_and_heartbeat(live: Directory, server: ServerProcess) -> None:
    admin = await live.company()
    bob = await live.colleague(admin, "Bob")
    conversation = await live.conversation(admin, "direct", [bob])
    cid = conversation["id"]
    async with realtime(server, admin) as admin_rt:
        async with realtime(server, bob) as bob_rt:
            online = await frames_until(
                admin_rt,
                lambda f: (
                    f["type"] == "presence"
                    and {"user_id": bob.id, "status": "online"} in f["users"]
                ),
            )
            assert len(online["users"]) <= 2  # bob, and perhaps admin in the same batch
            people = (await admin.get("/api/v1/users")).json()["users"]
            assert {p["id"]: p["presence"] for p in people}[bob.id] == "online"
            await admin_rt.subscribe(cid)
            await frames_until(admin_rt, lambda f: f["type"] == "subscribed")
            await bob_rt.typing(cid)
            typing = await frames_until(admin_rt, lambda f: f["type"] == "typing")
            assert typing["user_id"] == bob.id and typing["conversation_id"] == cid
        offline = await frames_until(
            admin_rt,
            lambda f: (
                f["type"] == "presence" and {"user_id": bob.id, "status": "offline"} in f["users"]
            ),
        )
        assert offline["users"] == [{"user_id": bob.id, "status": "offline"}]  # admin stays
    async with connect(server.ws_url) as ws:
        await ws.send(orjson.dumps({"type": "auth", "token": admin.token}).decode())
        await ws.recv()
        await ws.send(orjson.dumps({"type": "ping"}).decode())
        frames = [orjson.loads(await ws.recv()) for _ in range(2)]
        assert {"type": "pong"} in frames


async def test_inbox_tells_of_new_conversations_and_activity(
    live: Directory, server: ServerProcess
) -> None:
    admin = await live.company()
    bob = await live.colleague(admin, "Bob")
    async with realtime(server, bob) as bob_rt:
        conversation = await live.conversation(admin, "group", [bob], title="news")
        added = await frames_until(bob_rt, lambda f: f["type"] == "inbox")
        assert added["kind"] == "added" and added["conversation_id"] == conversation["id"]
        assert added["conversation"]["title"] == "news"
        sent = await send(admin, conversation["id"], "hello")
        activity = await frames_until(bob_rt, lambda f: f["type"] == "inbox")
        assert activity["kind"] == "activity"
        assert activity["event"] == "message.created" and activity["seq"] == sent["seq"]
        assert activity["sender_id"] == admin.id
        assert activity["preview"] == "hello"


async def test_idle_connection_is_dropped(
    live: Directory, start_server: Callable[..., ServerProcess]
) -> None:
    server = start_server(ws_idle_timeout_seconds="1")
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        admin = await Directory(http).company()
    async with connect(server.ws_url) as ws:
        await ws.send(orjson.dumps({"type": "auth", "token": admin.token}).decode())
        await ws.recv()
        with pytest.raises(ConnectionClosed):
            while True:
                await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code == 4001


async def test_attachment_links_are_fresh_in_live_and_replayed_events(
    live: Directory, server: ServerProcess
) -> None:
    admin, bob, conversation = await live.team()
    cid = conversation["id"]
    upload = await admin.post(
        f"/api/v1/conversations/{cid}/attachments",
        files={"file": ("notes.txt", b"plain text notes\n", "text/plain")},
    )
    assert upload.status_code == 201, upload.text
    async with realtime(server, bob) as client:
        await client.subscribe(cid)
        r = await admin.post(
            f"/api/v1/conversations/{cid}/messages",
            json={"body": "see file", "attachment_ids": [upload.json()["id"]]},
        )
        assert r.status_code == 201
        live_event = await client.next_event()
    async with realtime(server, bob) as client:
        await client.subscribe(cid, after_seq=live_event["seq"] - 1)
        replayed = await client.next_event()
    for event in (live_event, replayed):
        (attachment,) = event["data"]["attachments"]
        download = await bob.client.get(attachment["url"])
        assert download.status_code == 200
        assert download.content == b"plain text notes\n"
