"""The hub's periodic work: closing idle sockets, catching feeds up with the log, and
keeping this process's people recorded as online."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from hallway.config import Settings
from hallway.realtime.feeds import Feeds
from hallway.realtime.presence_changes import PresenceChanges
from hallway.realtime.registry import ConnectionRegistry

log = logging.getLogger(__name__)

# How often feeds are compared with the conversations' last_seq in the database. A lost
# broker frame is noticed at once when a later one arrives (a gap); this catches the lost
# frame that nothing follows.
FEED_CHECK_SECONDS = 5.0


class Housekeeping:
    def __init__(
        self,
        settings: Settings,
        registry: ConnectionRegistry,
        feeds: Feeds,
        presence_changes: PresenceChanges,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.feeds = feeds
        self.presence_changes = presence_changes
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._refresh_presence_forever()),
            asyncio.create_task(self._close_idle_forever()),
            asyncio.create_task(self._check_feeds_forever()),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _close_idle_forever(self) -> None:
        """Close connections that sent nothing (not even a ping) within the idle timeout.
        One sweep for all connections costs less than a timer per connection."""
        timeout = self.settings.ws_idle_timeout_seconds
        while True:
            await asyncio.sleep(min(timeout / 4, 5.0))
            self.registry.close_idle(time.monotonic() - timeout)

    async def _check_feeds_forever(self) -> None:
        while True:
            await asyncio.sleep(FEED_CHECK_SECONDS)
            try:
                await self.feeds.catch_up()
            except Exception:
                log.exception("checking feeds against the log failed")

    async def _refresh_presence_forever(self) -> None:
        interval = self.settings.presence_ttl_seconds / 3
        while True:
            await asyncio.sleep(interval)
            await self.presence_changes.refresh()
