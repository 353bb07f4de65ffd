"""RealtimeClient against a scripted WebSocket server: hole repair, its back-off and
counters, token renewal, and what a 4401 close does with and without a token provider."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from hallway.client import RealtimeClient
from tests.support import eventually

pytestmark = pytest.mark.anyio

CID = "c0000000-0000-0000-0000-000000000001"
READY = {"type": "ready", "user": {"id": "u1", "company_id": "co1", "role": "member"}}


class ScriptedPeer:
    """The server's side of one client connection: the test reads the client's frames and
    writes the server's."""

    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []
        self.arrived_at: list[float] = []  # time.monotonic() of each received frame
        self._incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                frame = orjson.loads(raw)
                if frame["type"] == "ping":
                    continue
                self.received.append(frame)
                self.arrived_at.append(time.monotonic())
                self._incoming.put_nowait(frame)
        except ConnectionClosed:
            pass

    async def expect(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        frame = await asyncio.wait_for(self._incoming.get(), timeout)
        assert frame["type"] == kind, frame
        return frame

    async def nothing_within(self, seconds: float) -> None:
        with pytest.raises(TimeoutError):
            frame = await asyncio.wait_for(self._incoming.get(), seconds)
            raise AssertionError(f"unexpected frame {frame}")

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps(frame).decode())

    async def ready(self, **fields: Any) -> None:
        await self.send({**READY, **fields})

    async def subscribed(self, last_seq: int) -> None:
        await self.send({"type": "subscribed", "conversation_id": CID, "last_seq": last_seq})

    async def events(self, *seqs: int) -> None:
        for seq in seqs:
            await self.send(
                {
                    "type": "event",
                    "conversation_id": CID,
                    "seq": seq,
                    "kind": "message.created",
                    "data": {"body": f"m{seq}"},
                    "created_at": "2026-01-01T00:00:00Z",
                }
            )

    def subscribes(self) -> list[dict[str, Any]]:
        return [frame for frame in self.received if frame["type"] == "subscribe"]


@asynccontextmanager
async def scripted_server() -> AsyncIterator[tuple[str, asyncio.Queue[ScriptedPeer]]]:
    """A WebSocket server on a free port; each connection comes out of the queue as a
    ScriptedPeer and stays open until the client or the test closes it."""
    peers: asyncio.Queue[ScriptedPeer] = asyncio.Queue()

    async def handler(ws: ServerConnection) -> None:
        peer = ScriptedPeer(ws)
        peers.put_nowait(peer)
        await ws.wait_closed()
        await peer.reader

    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}", peers


async def connected(
    url: str, peers: asyncio.Queue[ScriptedPeer], client: RealtimeClient, **ready: Any
) -> ScriptedPeer:
    """Start the client against the scripted server; returns the server's side, past ready."""
    starting = asyncio.create_task(client.start())
    peer = await asyncio.wait_for(peers.get(), 5)
    assert (await peer.expect("auth"))["token"] == client.token
    await peer.ready(**ready)
    await starting
    return peer


async def following(client: RealtimeClient, peer: ScriptedPeer, after_seq: int) -> None:
    """The client subscribes from after_seq; the server answers with nothing new."""
    subscribing = asyncio.create_task(client.subscribe(CID, after_seq=after_seq))
    assert await peer.expect("subscribe") == {
        "type": "subscribe",
        "conversation_id": CID,
        "after_seq": after_seq,
    }
    await peer.subscribed(last_seq=after_seq)
    await subscribing


async def event_seqs(client: RealtimeClient, count: int) -> list[int]:
    return [(await client.next_event(5))["seq"] for _ in range(count)]


def provider_of(tokens: list[str]) -> Callable[[], Awaitable[str]]:
    """A token provider handing out these tokens in turn."""
    remaining = iter(tokens)

    async def provide() -> str:
        return next(remaining)

    return provide


async def test_a_hole_is_repaired_by_one_subscribe_while_more_events_arrive() -> None:
    async with scripted_server() as (url, peers):
        client = RealtimeClient(url, "token-0")
        try:
            peer = await connected(url, peers, client)
            await following(client, peer, after_seq=0)
            await peer.events(1, 2, 3, 5, 6, 7)  # 4 lost on its way
            repair = await peer.expect("subscribe")
            assert repair == {"type": "subscribe", "conversation_id": CID, "after_seq": 3}
            # Before the answer: more out-of-order events, and one seen already.
            await peer.events(8, 9, 2)
            await peer.nothing_within(0.3)
            await peer.subscribed(last_seq=9)
            await peer.events(4, 5, 6, 7, 8, 9, 10)  # the replay, then live
            assert await event_seqs(client, 10) == list(range(1, 11))
            await peer.nothing_within(0.2)
            assert len(peer.subscribes()) == 2  # the application's and the repair
            assert (client.wire_gaps, client.resubscribes, client.wire_duplicates) == (1, 1, 1)
            assert client.last_seq[CID] == 10
        finally:
            await client.close()


async def repair(peer: ScriptedPeer, had: int, replay: list[int]) -> float:
    """Expect the repair subscribe from `had`, answer it and replay; returns how long after
    the hole's event was written the subscribe came."""
    written = time.monotonic()
    frame = await peer.expect("subscribe")
    waited = peer.arrived_at[-1] - written
    assert frame == {"type": "subscribe", "conversation_id": CID, "after_seq": had}
    await peer.subscribed(last_seq=replay[-1])
    await peer.events(*replay)
    return waited


async def test_holes_soon_after_a_repair_back_off_and_the_back_off_resets() -> None:
    async with scripted_server() as (url, peers):
        client = RealtimeClient(url, "token-0", max_backoff=1.0)
        try:
            peer = await connected(url, peers, client)
            await following(client, peer, after_seq=0)
            await peer.events(1, 3)
            first = await repair(peer, had=1, replay=[2, 3])
            assert await event_seqs(client, 3) == [1, 2, 3]

            await peer.events(5)
            second = await repair(peer, had=3, replay=[4, 5])
            assert await event_seqs(client, 2) == [4, 5]
            await peer.events(7)
            third = await repair(peer, had=5, replay=[6, 7])
            assert await event_seqs(client, 2) == [6, 7]
            # 0.1 s then 0.2 s, each with jitter of +-50 %; the first goes at once.
            assert second >= 0.05 and third >= 0.1, (first, second, third)

            # Events in order for longer than max_backoff: the next hole goes at once again
            # (a fourth back-off would be 0.4 s, at least 0.2 s with jitter).
            await peer.events(8)
            await asyncio.sleep(1.2)
            await peer.events(10)
            fourth = await repair(peer, had=8, replay=[9, 10])
            assert fourth < 0.15, fourth
            assert await event_seqs(client, 3) == [8, 9, 10]
            assert (client.wire_gaps, client.resubscribes, client.wire_duplicates) == (4, 4, 0)
        finally:
            await client.close()


async def test_a_reconnect_replaces_a_repair_waiting_for_its_back_off() -> None:
    async with scripted_server() as (url, peers):
        client = RealtimeClient(url, "token-0", max_backoff=5.0)
        try:
            peer = await connected(url, peers, client)
            await following(client, peer, after_seq=0)
            await peer.events(1, 3)
            await repair(peer, had=1, replay=[2, 3])
            await peer.events(5)  # a second hole: its subscribe waits 0.05-0.15 s
            await asyncio.sleep(0.02)
            await peer.ws.close(1012, "restarting")
            again = await asyncio.wait_for(peers.get(), 5)
            await again.expect("auth")
            await again.ready()
            # The new connection resumes from seq 3; the delayed repair never goes out.
            assert (await again.expect("subscribe"))["after_seq"] == 3
            await again.subscribed(last_seq=5)
            await again.events(4, 5)
            assert await event_seqs(client, 5) == [1, 2, 3, 4, 5]
            await again.nothing_within(0.4)
            assert (client.wire_gaps, client.resubscribes, client.reconnects) == (2, 1, 1)
        finally:
            await client.close()


async def test_the_token_is_renewed_before_expiry_and_again_after_authenticated() -> None:
    async with scripted_server() as (url, peers):
        client = RealtimeClient(url, "token-0", token_provider=provider_of(["fresh-1", "fresh-2"]))
        try:
            peer = await connected(url, peers, client, expires_in=2)
            readied = time.monotonic()
            auth = await peer.expect("auth")
            # A fifth of the 2 s lifetime before expiry: after 1.6 s.
            assert 1.5 <= peer.arrived_at[-1] - readied < 2.0
            assert auth == {"type": "auth", "token": "fresh-1"}
            assert client.token == "fresh-1"
            await peer.send({"type": "authenticated", "expires_in": 1})
            answered = time.monotonic()
            auth = await peer.expect("auth")
            assert 0.7 <= peer.arrived_at[-1] - answered < 1.0
            assert auth == {"type": "auth", "token": "fresh-2"}
            # A refused renewal: the socket carries on with the token it has.
            await peer.send({"type": "error", "code": "invalid_token", "message": "token refused"})
            await peer.nothing_within(0.3)
            assert client.state == "live"
            assert (client.token_refreshes, client.reconnects) == (2, 0)
        finally:
            await client.close()


async def test_a_4401_close_with_a_provider_reconnects_with_a_fresh_token() -> None:
    async with scripted_server() as (url, peers):
        client = RealtimeClient(url, "token-0", token_provider=provider_of(["fresh-1"]))
        try:
            peer = await connected(url, peers, client)
            await following(client, peer, after_seq=0)
            await peer.events(1, 2)
            assert await event_seqs(client, 2) == [1, 2]
            await peer.ws.close(4401, "token_expired")
            again = await asyncio.wait_for(peers.get(), 5)
            assert await again.expect("auth") == {"type": "auth", "token": "fresh-1"}
            await again.ready()
            assert (await again.expect("subscribe"))["after_seq"] == 2
            await eventually(lambda: client.state == "live")
            assert client.token == "fresh-1"
            assert (client.token_refreshes, client.reconnects) == (1, 1)
        finally:
            await client.close()


async def test_a_4401_close_without_a_provider_goes_offline() -> None:
    async with scripted_server() as (url, peers):
        client = RealtimeClient(url, "token-0")
        peer = await connected(url, peers, client)
        await peer.ws.close(4401, "token_expired")
        await eventually(lambda: client.state == "offline")
        assert (client.close_code, client.reconnects, client.token) == (4401, 0, "token-0")
        await asyncio.sleep(0.3)
        assert peers.empty()  # it did not try again
        await client.close()


async def test_a_4401_close_goes_offline_when_the_provider_fails() -> None:
    async def failing() -> str:
        raise RuntimeError("the login service is down")

    async with scripted_server() as (url, peers):
        client = RealtimeClient(url, "token-0", token_provider=failing)
        peer = await connected(url, peers, client)
        await peer.ws.close(4401, "token_expired")
        await eventually(lambda: client.state == "offline")
        await asyncio.sleep(0.3)
        assert peers.empty()
        assert (client.token_refreshes, client.reconnects) == (0, 0)
        await client.close()


async def test_a_fresh_token_refused_at_connect_goes_offline_rather_than_loop() -> None:
    async with scripted_server() as (url, peers):
        client = RealtimeClient(url, "token-0", token_provider=provider_of(["bad-1", "bad-2"]))
        peer = await connected(url, peers, client)
        await peer.ws.close(4401, "token_expired")
        again = await asyncio.wait_for(peers.get(), 5)
        assert (await again.expect("auth"))["token"] == "bad-1"
        await again.ws.close(4401, "invalid_token")
        await eventually(lambda: client.state == "offline")
        await asyncio.sleep(0.3)
        assert peers.empty()
        assert (client.token_refreshes, client.reconnects) == (1, 1)
        await client.close()
