"""Redis pub/sub broker: fan-out between the processes and nodes of one deployment."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import redis.asyncio as redis

from hallway.realtime.broker import FrameHandler

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "hallway:"


class RedisBroker:
    """One pub/sub connection per process for receiving; a pooled client for publishing.

    If the pub/sub connection drops, it is re-established and every topic re-subscribed;
    frames published meanwhile are lost here, and clients recover them by seq from the log.
    """

    def __init__(self, url: str) -> None:
        self.handler: FrameHandler | None = None
        self._client = redis.Redis.from_url(url)
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
        await self._client.aclose()

    async def ping(self) -> None:
        await self._client.ping()

    async def publish(self, topic: str, frame: str) -> None:
        await self._client.publish(CHANNEL_PREFIX + topic, frame)

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
            if self.handler is None:
                continue
            channel = message["channel"]
            data = message["data"]
            try:
                self.handler(channel.decode()[prefix:], data.decode())
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
