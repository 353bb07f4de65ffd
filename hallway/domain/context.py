"""What a use case runs against: settings, database, event publisher and file storage."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, Protocol

from hallway.config import Settings
from hallway.domain.rate_limits import RateLimits
from hallway.domain.session_states import SessionStates
from hallway.files.links import FileLinks
from hallway.mail import Mailer
from hallway.store.database import Connection, Database
from hallway.store.message_log import MessageLog
from hallway.store.types import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of a conversation's event log: a durable change, numbered by `seq`."""

    conversation_id: str
    seq: int
    kind: str
    data: dict[str, Any]
    created_at: datetime


class EventPublisher(Protocol):
    """Receives events after their transaction committed (the realtime layer implements it)."""

    async def publish(self, events: Sequence[Event]) -> None: ...

    async def sessions_ended(self, user_id: str, session_ids: Sequence[str] | None) -> None:
        """These sessions of the person (None: all of them) have ended: their sockets close,
        on every process."""

    async def to_person(self, user_id: str, frame: dict[str, Any]) -> None:
        """A frame for every socket of the person, on every process; not logged, so a
        socket that is not open now never gets it (a read marker in a channel)."""

    async def to_company(self, company_id: str, frame: dict[str, Any]) -> None:
        """A frame for every socket of the company, on every process, as presence travels;
        not logged (a profile change: clients load the people again on reconnect)."""


class NullPublisher:
    async def publish(self, events: Sequence[Event]) -> None:
        return None

    async def sessions_ended(self, user_id: str, session_ids: Sequence[str] | None) -> None:
        return None

    async def to_person(self, user_id: str, frame: dict[str, Any]) -> None:
        return None

    async def to_company(self, company_id: str, frame: dict[str, Any]) -> None:
        return None


@dataclass
class Transaction:
    """A write transaction plus the events it appended, published once it commits."""

    conn: Connection
    now: datetime
    events: list[Event] = field(default_factory=list)


@dataclass
class DomainContext:
    settings: Settings
    db: Database
    publisher: EventPublisher = field(default_factory=NullPublisher)
    # Set by the app when file storage is configured (hallway.files.storage.Storage).
    storage: Any = None
    # Set by the app (hallway.mail); a context of its own (the command line) mails nothing.
    mailer: Mailer | None = None
    session_states: SessionStates = field(default_factory=SessionStates)
    # The app sets the settings' limits; a context of its own (the command line) has none.
    rate_limits: RateLimits = field(default_factory=RateLimits.off)

    @cached_property
    def message_log(self) -> MessageLog:
        """The conversation log, with the lanes in which this process's sends queue."""
        return MessageLog(self.db)

    @cached_property
    def links(self) -> FileLinks:
        """The signer of attachment links; its key is derived from the secret once."""
        return FileLinks.from_settings(self.settings)

    @asynccontextmanager
    async def transaction(self, *, off_loop: bool = False) -> AsyncIterator[Transaction]:
        """Commit, then publish what was appended. A failed publish loses nothing:
        clients notice the gap in `seq` and fetch it from the log. `off_loop`: work that
        may take long (Database.write)."""
        async with self.write(off_loop=off_loop) as tx:
            yield tx
        await self.publish(tx.events)

    @asynccontextmanager
    async def write(self, *, off_loop: bool = False) -> AsyncIterator[Transaction]:
        """A write transaction whose appended events the caller publishes (`publish`) once
        it has committed."""
        async with self.db.write(off_loop=off_loop) as conn:
            yield Transaction(conn=conn, now=utcnow())

    async def publish(self, events: Sequence[Event]) -> None:
        """Hand committed events to the publisher; a failure is logged, never raised."""
        if not events:
            return
        try:
            await self.publisher.publish(events)
        except Exception:
            log.exception("publishing %d events failed; clients resume from the log", len(events))

    async def to_person(self, user_id: str, frame: dict[str, Any]) -> None:
        """publisher.to_person after commit; a failure is logged, never raised (the frame
        is a courtesy: what it says is in the database)."""
        try:
            await self.publisher.to_person(user_id, frame)
        except Exception:
            log.exception("publishing a frame to a person failed")

    async def to_company(self, company_id: str, frame: dict[str, Any]) -> None:
        """publisher.to_company after commit; a failure is logged, never raised."""
        try:
            await self.publisher.to_company(company_id, frame)
        except Exception:
            log.exception("publishing a frame to a company failed")
