"""This process's people coming online and going offline: recorded in Presence, announced to
their companies in batches, and refreshed before the records expire."""

from __future__ import annotations

import asyncio
import logging

from hallway.domain.actor import Actor
from hallway.realtime.broker import Broker
from hallway.realtime.frames import dumps
from hallway.realtime.presence import Presence
from hallway.realtime.registry import ConnectionRegistry

log = logging.getLogger(__name__)

# Presence changes are announced in batches: when a whole office connects at once, each
# connection gets a few frames listing many people instead of one frame per person (which
# grows with the square of the company's size).
PRESENCE_BATCH_SECONDS = 0.25


class PresenceChanges:
    def __init__(self, broker: Broker, presence: Presence, registry: ConnectionRegistry) -> None:
        self.broker = broker
        self.presence = presence
        self.registry = registry
        self._changes: dict[str, dict[str, str]] = {}  # company -> person -> status
        self._flush: asyncio.Task[None] | None = None

    async def arrived(self, actor: Actor) -> None:
        """The person's first connection on this process is attached (not away: a new socket
        is active until its client says otherwise)."""
        await self.presence.mark_online(actor.company_id, [actor.user_id])
        self._announce(actor.company_id, actor.user_id, "online")

    async def away_changed(self, actor: Actor, away: bool) -> None:
        """Whether the person is away on this process changed (every socket of theirs here
        says idle, or one no longer does): their status everywhere is announced."""
        status = await self.presence.set_away(actor.company_id, actor.user_id, away)
        if status is not None:
            self._announce(actor.company_id, actor.user_id, status)

    async def left(self, actor: Actor) -> None:
        """The person's last connection on this process is gone."""
        if await self.presence.mark_offline(actor.company_id, actor.user_id):
            self._announce(actor.company_id, actor.user_id, "offline")

    async def refresh(self) -> None:
        """Record everyone connected here as online again, before their entries expire."""
        for company_id, user_ids in self.registry.people_by_company().items():
            try:
                await self.presence.mark_online(company_id, user_ids)
            except Exception:
                log.exception("refreshing presence failed")

    def close(self) -> None:
        if self._flush is not None:
            self._flush.cancel()

    def _announce(self, company_id: str, user_id: str, status: str) -> None:
        # The latest status wins: a reconnect within one batch announces nothing new.
        self._changes.setdefault(company_id, {})[user_id] = status
        if self._flush is None:
            self._flush = asyncio.get_running_loop().create_task(self._announce_batch())

    async def _announce_batch(self) -> None:
        await asyncio.sleep(PRESENCE_BATCH_SECONDS)
        changes, self._changes = self._changes, {}
        self._flush = None
        for company_id, people in changes.items():
            frame = dumps(
                {
                    "type": "presence",
                    "users": [{"user_id": u, "status": s} for u, s in people.items()],
                }
            )
            try:
                await self.broker.publish(f"presence:{company_id}", frame)
            except Exception:
                log.exception("publishing presence failed")
