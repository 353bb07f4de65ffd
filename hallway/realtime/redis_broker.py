"""Redis pub/sub broker: fan-out between the processes and nodes of one deployment."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets

import redis.asyncio as redis

from hallway.realtime.broker import FrameHandler

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "hallway:"
ORIGIN_CHARS = 16
PUBLISHER_NAME = "hallway-publisher"  # its CLIENT LIST name, for operators and tests


class RedisBroker:
    """One pub/sub connection per process for receiving, and one for publishing.

    A frame published here reaches this process's own handler without going through
    Redis, and the other processes through Redis: each process marks what it publishes
    with its origin and skips its own frames when Redis echoes them. So local subscribers
    wait for no Redis round trip, and keep receiving while Redis is away. The PUBLISH goes
    on the wire first and the local fan-out runs while Redis and the other processes work
    on it, so their subscribers don't wait behind this process's.

    The publishing connection runs with CLIENT REPLY OFF: a PUBLISH is written and nothing
    comes back, which costs 20 µs of CPU against 72 for an answered one through redis-py
    (docs/benchmarks.md). PUBLISH has no error to report but a lost connection, which the
    next write finds; the broker then connects again, replies off again.

    If the pub/sub connection drops, it is re-established and every topic re-subscribed;
    frames published meanwhile are lost here, and clients recover them by seq from the log.
    """

    def __init__(self, url: str) -> None:
        self.handler: FrameHandler | None = None
        self._origin = secrets.token_hex(ORIGIN_CHARS // 2)
        self._origin_bytes = self._origin.encode()
        self._client = redis.Redis.from_url(url)
        pool = self._client.connection_pool
        self._publisher = pool.connection_class(
            **{**pool.connection_kwargs, "client_name": PUBLISHER_NAME}
        )
        self._publisher_ready = False  # connected, and told to send no replies
        self._connecting = asyncio.Lock()
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        self._topics: set[str] = set()
        self._reader: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def start(self) -> None:
        await self._client.ping()
        self._reader = asyncio.create_task(self._read_forever(), name="redis-broker-reader")

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        await self._publisher.disconnect()
        await self._client.aclose()

    async def ping(self) -> None:
        await self._client.ping()

    async def publish(self, topic: str, frame: str) -> None:
        sending = asyncio.ensure_future(
            self._publish_unanswered(CHANNEL_PREFIX + topic, self._origin + frame)
        )
        if topic in self._topics:
            await asyncio.sleep(0)  # the task's first step writes the command
            self._handle(topic, frame)
        await sending

    async def _publish_unanswered(self, channel: str, data: str) -> None:
        publisher = self._publisher
        if not (self._publisher_ready and publisher.is_connected):
            async with self._connecting:  # one connection, whoever finds it missing
                if not (self._publisher_ready and publisher.is_connected):
                    self._publisher_ready = False
                    await publisher.connect()  # type: ignore[no-untyped-call]
                    await publisher.send_command("CLIENT", "REPLY", "OFF", check_health=False)
                    self._publisher_ready = True
        try:
            await publisher.send_packed_command(
                publisher.pack_command("PUBLISH", channel, data), check_health=False
            )
        except BaseException:
            self._publisher_ready = False  # redis-py dropped the connection; start again
            raise

    async def subscribe(self, topics: list[str]) -> None:
        new = [t for t in topics if t not in self._topics]
        if not new:
            return
        self._topics.update(new)
        await self._pubsub.subscribe(*(CHANNEL_PREFIX + t for t in new))
        self._subscribed.set()

    async def unsubscribe(self, topics: list[str]) -> None:
        gone = [t for t in topics if t in self._topics]
        if not gone:
            return
        self._topics.difference_update(gone)
        await self._pubsub.unsubscribe(*(CHANNEL_PREFIX + t for t in gone))

    async def _read_forever(self) -> None:
        prefix = len(CHANNEL_PREFIX)
        while True:
            await self._subscribed.wait()
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                log.warning("redis pub/sub connection lost; reconnecting")
                await asyncio.sleep(0.5)
                await self._resubscribe()
                continue
            if message is None or message.get("type") != "message":
                continue
            data: bytes = message["data"]
            if data.startswith(self._origin_bytes):
                continue  # published here, and handled then
            self._handle(message["channel"].decode()[prefix:], data[ORIGIN_CHARS:].decode())

    def _handle(self, topic: str, frame: str) -> None:
        if self.handler is None:
            return
        try:
            self.handler(topic, frame)
        except Exception:
            log.exception("handling a broker frame failed")

    async def _resubscribe(self) -> None:
        try:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
            self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            if self._topics:
                await self._pubsub.subscribe(*(CHANNEL_PREFIX + t for t in self._topics))
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            log.warning("redis still unreachable; will retry")
