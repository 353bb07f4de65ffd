"""Redis pub/sub broker: fan-out between the processes and nodes of one deployment."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeGuard

from prometheus_client import Counter

from hallway.metrics import BROKER_RECONNECTS
from hallway.realtime.broker import BrokerUnavailable, FrameHandler
from hallway.realtime.redis_outage import (
    REDIS_FAILURES,
    RedisOutageLog,
    describe,
    fail_fast_client,
)
from hallway.realtime.redis_wire import RedisEndpoint, Reply, RespConnection, pack_command

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "hallway:"
ORIGIN_CHARS = 16
# Their CLIENT LIST names, for operators and tests.
PUBLISHER_NAME = "hallway-publisher"
SUBSCRIBER_NAME = "hallway-subscriber"
# How often a lost connection is attempted again, at most.
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
    comes back. PUBLISH has no error to report but a lost connection.

    A subscribe returns once Redis has confirmed it, so a frame published after it returns
    reaches this process. Both connections are RespConnection (redis_wire.py); PING goes
    through redis-py.

    Redis may be away at start or go away later: the process serves on regardless. Each
    connection is made again in the background, at most every RECONNECT_SECONDS, and the
    receiving one subscribes to every topic again, then `reconnected` is called. Meanwhile
    a publish still reaches this process's handler and drops the other processes' copy,
    `ping` raises BrokerUnavailable (the process is not ready), and the outage is logged
    once when it begins and once when it ends. Frames that did not cross Redis are in the
    log, and the other processes' clients recover them by seq.
    """

    def __init__(self, url: str, outage: RedisOutageLog | None = None) -> None:
        self.handler: FrameHandler | None = None
        self.reconnected: Callable[[], None] | None = None
        self._origin = secrets.token_hex(ORIGIN_CHARS // 2)
        self._origin_bytes = self._origin.encode()
        self._endpoint = RedisEndpoint(url)
        self._client = fail_fast_client(url)
        self._outage = outage or RedisOutageLog()
        self._publisher: RespConnection | None = None
        self._subscriber: RespConnection | None = None
        self._keeping_open: list[asyncio.Task[None]] = []
        self._topics: set[str] = set()
        # Per channel, a future for each SUBSCRIBE written and not yet confirmed.
        self._confirming: dict[bytes, deque[asyncio.Future[None]]] = {}
        self._closed = False

    async def start(self) -> None:
        """Connect both ways if Redis can be reached now; keep trying in the background if
        not. Never raises for an unreachable Redis."""
        publisher, subscriber = await asyncio.gather(
            self._connect(self._open_publisher), self._connect(self._open_subscriber)
        )
        self._keeping_open = [
            asyncio.create_task(
                self._keep_open(
                    publisher, self._open_publisher, BROKER_RECONNECTS.labels("publisher")
                ),
                name="redis-broker-publisher",
            ),
            asyncio.create_task(
                self._keep_open(
                    subscriber, self._reopen_subscriber, BROKER_RECONNECTS.labels("subscriber")
                ),
                name="redis-broker-subscriber",
            ),
        ]

    async def close(self) -> None:
        self._closed = True
        for task in self._keeping_open:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for connection in (self._subscriber, self._publisher):
            if connection is not None:
                connection.close()
        await self._client.aclose()

    async def ping(self) -> None:
        if not (_usable(self._subscriber) and _usable(self._publisher)):
            # Logged when the connection was lost; answered without waiting on Redis.
            raise BrokerUnavailable("not connected to redis")
        try:
            await self._client.ping()
        except REDIS_FAILURES as error:
            self._outage.failed(describe(error))
            raise BrokerUnavailable(describe(error)) from error
        self._outage.succeeded()

    # --- connections ---------------------------------------------------------------------

    async def _connect(
        self, open_connection: Callable[[], Awaitable[RespConnection]]
    ) -> RespConnection | None:
        """A new connection, or None if Redis can't be reached now."""
        try:
            connection = await open_connection()
        except OSError as error:  # ConnectionError and TimeoutError among them
            self._outage.failed(describe(error))
            return None
        self._outage.succeeded()
        return connection

    async def _keep_open(
        self,
        connection: RespConnection | None,
        reopen: Callable[[], Awaitable[RespConnection]],
        reconnects: Counter,
    ) -> None:
        """Wait for the connection to end, then make it again, until the broker closes;
        each time it is made again counts in `reconnects`."""
        loop = asyncio.get_running_loop()
        attempted = loop.time()
        while True:
            if connection is not None:
                reason = await _end_of(connection)
                if self._closed:
                    return
                self._outage.failed(reason)
            # At once after a connection that lasted; no busier than this while Redis is
            # away, or closes each new connection.
            await asyncio.sleep(attempted + RECONNECT_SECONDS - loop.time())
            attempted = loop.time()
            connection = await self._connect(reopen)
            if connection is not None:
                reconnects.inc()

    # --- publishing ----------------------------------------------------------------------

    async def publish(self, topic: str, frame: str) -> None:
        """Never waits for Redis and never raises: while the publishing connection is
        down, only this process's handler gets the frame."""
        publisher = self._publisher
        if _usable(publisher):
            channel = (CHANNEL_PREFIX + topic).encode()
            data = (self._origin + frame).encode()
            publisher.write(_PUBLISH % (len(channel), channel, len(data), data))
        if topic in self._topics:
            self._handle(topic, frame)

    async def _open_publisher(self) -> RespConnection:
        publisher = await RespConnection.open(self._endpoint, PUBLISHER_NAME, _unexpected_reply)
        publisher.write(pack_command(b"CLIENT", b"REPLY", b"OFF"))
        self._publisher = publisher
        return publisher

    # --- receiving -----------------------------------------------------------------------

    async def subscribe(self, topics: list[str]) -> None:
        """Returns once Redis has confirmed each topic (or at once if the connection is
        gone: its replacement will subscribe to every topic anew)."""
        subscriber = self._subscriber
        new = [t for t in topics if t not in self._topics]
        self._topics.update(new)
        if not _usable(subscriber):
            return
        if new:
            self._write_subscribe(subscriber, new)
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

    def _write_subscribe(
        self, subscriber: RespConnection, topics: Iterable[str]
    ) -> list[asyncio.Future[None]]:
        """SUBSCRIBE to `topics`; a future for each, done when Redis confirms it."""
        channels = _channels(topics)
        subscriber.write(pack_command(b"SUBSCRIBE", *channels))
        loop = asyncio.get_running_loop()
        confirmations = []
        for channel in channels:
            confirmation: asyncio.Future[None] = loop.create_future()
            self._confirming.setdefault(channel, deque()).append(confirmation)
            confirmations.append(confirmation)
        return confirmations

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
        subscriber, _ = await self._open_and_subscribe()
        return subscriber

    async def _reopen_subscriber(self) -> RespConnection:
        """The receiving connection made again, once Redis has confirmed every topic; then
        the owner hears of it (`reconnected`) and catches up from the log."""
        subscriber, confirmations = await self._open_and_subscribe()
        if confirmations and not await _all_done(
            confirmations, subscriber.lost, SUBSCRIBE_CONFIRM_SECONDS
        ):
            if subscriber.lost.done():
                return subscriber  # lost again: the next connection will tell the owner
            log.warning("redis did not confirm the subscriptions; going on")
        if self.reconnected is not None:
            try:
                self.reconnected()
            except Exception:
                log.exception("the broker's reconnected callback failed")
        return subscriber

    async def _open_and_subscribe(self) -> tuple[RespConnection, list[asyncio.Future[None]]]:
        subscriber = await RespConnection.open(
            self._endpoint, SUBSCRIBER_NAME, self._on_subscriber_reply
        )
        self._confirming.clear()  # their waiters have seen the previous connection end
        self._subscriber = subscriber
        confirmations = self._write_subscribe(subscriber, self._topics) if self._topics else []
        return subscriber, confirmations

    def _handle(self, topic: str, frame: str) -> None:
        if self.handler is None:
            return
        try:
            self.handler(topic, frame)
        except Exception:
            log.exception("handling a broker frame failed")


async def _end_of(connection: RespConnection) -> str:
    """Wait for the connection to end; why it did, for the log."""
    try:
        await connection.lost
    except Exception as error:
        return describe(error)
    return "redis closed the connection"


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
                if future.done():
                    continue  # no turn of the loop for each of a reconnect's many topics
                either: list[asyncio.Future[Any]] = [future, lost]
                await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
                if not future.done():
                    return False
    except TimeoutError:
        return False
    return True


def _unexpected_reply(reply: Reply) -> None:
    log.warning("unexpected reply on the redis publisher: %r", reply)
