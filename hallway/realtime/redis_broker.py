"""Redis pub/sub broker: fan-out between the processes and nodes of one deployment."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import Iterable
from typing import Any, TypeGuard

import redis.asyncio as redis

from hallway.realtime.broker import FrameHandler
from hallway.realtime.redis_wire import RedisEndpoint, Reply, RespConnection, pack_command

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "hallway:"
ORIGIN_CHARS = 16
# Their CLIENT LIST names, for operators and tests.
PUBLISHER_NAME = "hallway-publisher"
SUBSCRIBER_NAME = "hallway-subscriber"
RECONNECT_SECONDS = 0.5
# How long a subscribe waits for Redis to confirm it before going on regardless.
SUBSCRIBE_CONFIRM_SECONDS = 2.0

_PUBLISH = b"*3\r\n$7\r\nPUBLISH\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"  # pack_command's, inlined
_MESSAGE = b"message"
_SUBSCRIBE = b"subscribe"


class RedisBroker:
    """One connection per process for receiving, and one for publishing.

    A frame published here reaches this process's own handler without going through
    Redis, and the other processes through Redis: each process marks what it publishes
    with its origin and skips its own frames when Redis echoes them. So local subscribers
    wait for no Redis round trip, and keep receiving while Redis is away. The PUBLISH is
    written before the local fan-out runs, so the other processes' subscribers don't wait
    behind this process's.

    The publishing connection runs with CLIENT REPLY OFF: a PUBLISH is written and nothing
    comes back. PUBLISH has no error to report but a lost connection, which the next
    publish finds; the broker then connects again, replies off again.

    A subscribe returns once Redis has confirmed it, so a frame published after it returns
    reaches this process. If the receiving connection drops, it is made again and every
    topic subscribed again; frames published meanwhile are lost here, and clients recover
    them by seq from the log. Both connections are RespConnection (redis_wire.py); PING
    goes through redis-py.
    """

    def __init__(self, url: str) -> None:
        self.handler: FrameHandler | None = None
        self._origin = secrets.token_hex(ORIGIN_CHARS // 2)
        self._origin_bytes = self._origin.encode()
        self._endpoint = RedisEndpoint(url)
        self._client = redis.Redis.from_url(url)
        self._publisher: RespConnection | None = None
        self._connecting_publisher = asyncio.Lock()
        self._subscriber: RespConnection | None = None
        self._keeping_subscribed: asyncio.Task[None] | None = None
        self._topics: set[str] = set()
        # Per channel, a future for each SUBSCRIBE written and not yet confirmed.
        self._confirming: dict[bytes, deque[asyncio.Future[None]]] = {}
        self._closed = False

    async def start(self) -> None:
        await self._client.ping()
        self._subscriber = await self._open_subscriber()
        self._keeping_subscribed = asyncio.create_task(
            self._keep_subscribed(self._subscriber), name="redis-broker-subscriber"
        )

    async def close(self) -> None:
        self._closed = True
        if self._keeping_subscribed is not None:
            self._keeping_subscribed.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeping_subscribed
        for connection in (self._subscriber, self._publisher):
            if connection is not None:
                connection.close()
        await self._client.aclose()

    async def ping(self) -> None:
        await self._client.ping()

    # --- publishing ----------------------------------------------------------------------

    async def publish(self, topic: str, frame: str) -> None:
        publisher = self._publisher
        if not _usable(publisher):
            publisher = await self._open_publisher()
        channel = (CHANNEL_PREFIX + topic).encode()
        data = (self._origin + frame).encode()
        publisher.write(_PUBLISH % (len(channel), channel, len(data), data))
        if topic in self._topics:
            self._handle(topic, frame)

    async def _open_publisher(self) -> RespConnection:
        async with self._connecting_publisher:  # one connection, whoever finds it missing
            publisher = self._publisher
            if not _usable(publisher):
                publisher = await RespConnection.open(
                    self._endpoint, PUBLISHER_NAME, _unexpected_reply
                )
                publisher.write(pack_command(b"CLIENT", b"REPLY", b"OFF"))
                self._publisher = publisher
            return publisher

    # --- receiving -----------------------------------------------------------------------

    async def subscribe(self, topics: list[str]) -> None:
        """Returns once Redis has confirmed each topic (or the connection is gone, and
        its replacement will subscribe to every topic anew)."""
        subscriber = self._subscriber
        new = [t for t in topics if t not in self._topics]
        self._topics.update(new)
        if not _usable(subscriber):
            return
        if new:
            channels = _channels(new)
            subscriber.write(pack_command(b"SUBSCRIBE", *channels))
            loop = asyncio.get_running_loop()
            for channel in channels:
                self._confirming.setdefault(channel, deque()).append(loop.create_future())
        # A topic another caller subscribed to a moment ago may not be confirmed yet.
        waits = [q[-1] for q in map(self._confirming.get, _channels(topics)) if q]
        if waits and not await _all_done(waits, subscriber.lost, SUBSCRIBE_CONFIRM_SECONDS):
            log.warning("redis did not confirm a subscription; going on")

    async def unsubscribe(self, topics: list[str]) -> None:
        gone = [t for t in topics if t in self._topics]
        self._topics.difference_update(gone)
        subscriber = self._subscriber
        if gone and _usable(subscriber):
            subscriber.write(pack_command(b"UNSUBSCRIBE", *_channels(gone)))

    def _on_subscriber_reply(self, reply: Reply) -> None:
        if not isinstance(reply, list) or len(reply) != 3:
            log.warning("unexpected reply on the redis subscriber: %r", reply)
            return
        kind, channel, data = reply
        if kind == _MESSAGE:
            if data.startswith(self._origin_bytes):
                return  # published here, and handled then
            topic = channel[len(CHANNEL_PREFIX) :].decode()
            self._handle(topic, data[ORIGIN_CHARS:].decode())
        elif kind == _SUBSCRIBE:
            # Redis confirms a connection's SUBSCRIBEs in the order they were written.
            queue = self._confirming.get(channel)
            if queue:
                queue.popleft().set_result(None)
                if not queue:
                    del self._confirming[channel]

    async def _open_subscriber(self) -> RespConnection:
        subscriber = await RespConnection.open(
            self._endpoint, SUBSCRIBER_NAME, self._on_subscriber_reply
        )
        if self._topics:
            subscriber.write(pack_command(b"SUBSCRIBE", *_channels(self._topics)))
        return subscriber

    async def _keep_subscribed(self, subscriber: RespConnection) -> None:
        """Wait for the receiving connection to end; make it again until that works."""
        while True:
            with contextlib.suppress(Exception):
                await subscriber.lost
            self._confirming.clear()  # their waiters have seen the connection end
            if self._closed:
                return
            log.warning("redis pub/sub connection lost; reconnecting")
            while True:
                await asyncio.sleep(RECONNECT_SECONDS)
                try:
                    subscriber = self._subscriber = await self._open_subscriber()
                    break
                except OSError:
                    log.warning("redis still unreachable; will retry")

    def _handle(self, topic: str, frame: str) -> None:
        if self.handler is None:
            return
        try:
            self.handler(topic, frame)
        except Exception:
            log.exception("handling a broker frame failed")


def _usable(connection: RespConnection | None) -> TypeGuard[RespConnection]:
    return connection is not None and connection.open_now


def _channels(topics: Iterable[str]) -> list[bytes]:
    return [(CHANNEL_PREFIX + t).encode() for t in topics]


async def _all_done(
    futures: list[asyncio.Future[None]], lost: asyncio.Future[None], timeout: float
) -> bool:
    """Whether all of `futures` are done within `timeout`, and before `lost` is."""
    try:
        async with asyncio.timeout(timeout):
            for future in futures:
                either: list[asyncio.Future[Any]] = [future, lost]
                await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
                if not future.done():
                    return False
    except TimeoutError:
        return False
    return True


def _unexpected_reply(reply: Reply) -> None:
    log.warning("unexpected reply on the redis publisher: %r", reply)
