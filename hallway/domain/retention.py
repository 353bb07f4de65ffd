"""The retention job: erase what is older than its conversation keeps, and let the log go.

For each conversation with a retention (retention_policy.py), messages sent before the
cutoff are erased by the same erasure as a delete (erasure.py: content gone from the
message, its edits, reactions, files, search and every event of it), in batches of
`batch` messages, each its own short transaction, so the conversation's lock is never held
for long. Then the log's events from before the cutoff are dropped, in batches too: a
client resuming from before what the log keeps gets `resync` (realtime) or 410 (HTTP)
instead of a silent gap.

Several nodes may start it at once: on PostgreSQL one takes an advisory lock and does the
work, the others find it taken and skip. A dry run counts what a run would remove and
changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, or_, select

from hallway.domain.attachment_cleanup import purge_soon
from hallway.domain.context import DomainContext
from hallway.domain.day_archives import write_day_archive
from hallway.domain.erasure import erase_messages
from hallway.domain.retention_policy import effective_days
from hallway.store.acting import as_system
from hallway.store.database import Connection
from hallway.store.tables import attachments, companies, conversations, events, messages
from hallway.store.types import utcnow

log = logging.getLogger(__name__)

MESSAGES_PER_BATCH = 100
EVENTS_PER_BATCH = 1_000
# Any fixed number, other than the migrations' (hallway.store.migrate).
RETENTION_LOCK_KEY = 0x4841_5245


@dataclass
class ConversationExpiry:
    conversation_id: str
    company_id: str
    cutoff: datetime
    archive: bool = False
    """The company archives expired messages before they are erased."""
    messages: int = 0
    events: int = 0
    files: int = 0


@dataclass
class RetentionReport:
    dry_run: bool
    ran: bool = True
    """False when another node was running the job: this one did nothing."""
    conversations: list[ConversationExpiry] = field(default_factory=list)
    seconds: float = 0.0
    erase_transactions: list[float] = field(default_factory=list)
    """How long each batch of erasures held its transaction (and so its conversation's
    lock), in seconds."""
    drop_transactions: list[float] = field(default_factory=list)
    """How long each batch of the log's dropped events held its transaction."""
    archived_days: set[tuple[str, date]] = field(default_factory=set)
    """(company, UTC day) archived before its messages were erased (or, in a dry run,
    that would be)."""

    @property
    def messages(self) -> int:
        return sum(c.messages for c in self.conversations)

    @property
    def events(self) -> int:
        return sum(c.events for c in self.conversations)

    @property
    def files(self) -> int:
        return sum(c.files for c in self.conversations)


async def expiring_conversations(ctx: DomainContext, now: datetime) -> list[ConversationExpiry]:
    """Every conversation with a retention, and its cutoff."""
    async with ctx.db.read() as conn:
        rows = (
            await conn.execute(
                select(
                    conversations.c.id,
                    conversations.c.company_id,
                    conversations.c.retention_days.label("own_days"),
                    companies.c.retention_days.label("company_days"),
                    companies.c.archive_expired,
                )
                .join(companies, companies.c.id == conversations.c.company_id)
                .where(
                    or_(
                        conversations.c.retention_days > 0,
                        and_(
                            conversations.c.retention_days.is_(None),
                            companies.c.retention_days.is_not(None),
                        ),
                    )
                )
                .order_by(conversations.c.id)
            )
        ).all()
    found = []
    for row in rows:
        days = effective_days(row.company_days, row.own_days)
        if days is not None:
            cutoff = now - timedelta(days=days)
            found.append(ConversationExpiry(row.id, row.company_id, cutoff, row.archive_expired))
    return found


def _expired(expiry: ConversationExpiry) -> list[ColumnElement[bool]]:
    return [
        messages.c.conversation_id == expiry.conversation_id,
        messages.c.created_at < expiry.cutoff,
        messages.c.deleted_at.is_(None),
    ]


async def _last_expired_event(conn: Connection, expiry: ConversationExpiry) -> int | None:
    """The seq up to which the log is dropped: its newest event from before the cutoff."""
    upto = (
        await conn.execute(
            select(func.max(events.c.seq)).where(
                events.c.conversation_id == expiry.conversation_id,
                events.c.created_at < expiry.cutoff,
            )
        )
    ).scalar_one()
    return None if upto is None else int(upto)


async def _count(ctx: DomainContext, expiry: ConversationExpiry) -> None:
    async with ctx.db.read(off_loop=True) as conn:
        expiry.messages = int(
            (
                await conn.execute(
                    select(func.count()).select_from(messages).where(*_expired(expiry))
                )
            ).scalar_one()
        )
        expiry.files = int(
            (
                await conn.execute(
                    select(func.count())
                    .select_from(attachments.join(messages))
                    .where(*_expired(expiry), attachments.c.deleted_at.is_(None))
                )
            ).scalar_one()
        )
        upto = await _last_expired_event(conn, expiry)
        if upto is not None:
            expiry.events = int(
                (
                    await conn.execute(
                        select(func.count()).where(
                            events.c.conversation_id == expiry.conversation_id,
                            events.c.seq <= upto,
                        )
                    )
                ).scalar_one()
            )


async def _erase_expired(
    ctx: DomainContext, expiry: ConversationExpiry, batch: int, report: RetentionReport
) -> None:
    """Erase the conversation's expired messages a batch at a time. Each batch is read
    before its erasing transaction, which keeps that transaction short and lets the
    archive (when it is on) see the batch's days from the same read. A message a person
    deletes in between is skipped by erase_messages; none can newly expire, since the
    cutoff lies in the past."""
    after_seq = 0
    while True:
        async with ctx.db.read(off_loop=True) as conn:
            due = (
                await conn.execute(
                    select(messages.c.id, messages.c.seq, messages.c.created_at)
                    .where(*_expired(expiry), messages.c.seq > after_seq)
                    .order_by(messages.c.seq)
                    .limit(batch)
                )
            ).all()
        if not due:
            return
        if expiry.archive:
            await _archive_days(ctx, expiry, [row.created_at for row in due], report)
        started = time.monotonic()
        async with ctx.transaction(off_loop=True) as tx:
            erased = await erase_messages(tx, [row.id for row in due], deleted_by=None)
        report.erase_transactions.append(time.monotonic() - started)
        expiry.messages += len(erased)
        files = [file for each in erased for file in each.attachment_ids]
        after_seq = due[-1].seq
        expiry.files += len(files)
        await purge_soon(ctx, files)
        await asyncio.sleep(0)  # what waits for the loop goes first


async def _archive_days(
    ctx: DomainContext,
    expiry: ConversationExpiry,
    sent_at: list[datetime],
    report: RetentionReport,
) -> None:
    """Archive the company's days of a batch before it is erased: each day whole, once
    (write_day_archive keeps the first complete archive of a day)."""
    for day in sorted({at.astimezone(UTC).date() for at in sent_at}):
        if (expiry.company_id, day) not in report.archived_days:
            await write_day_archive(ctx, expiry.company_id, day)
            report.archived_days.add((expiry.company_id, day))


async def _drop_expired_events(
    ctx: DomainContext, expiry: ConversationExpiry, report: RetentionReport
) -> None:
    async with ctx.db.read() as conn:
        upto = await _last_expired_event(conn, expiry)
    if upto is None:
        return
    while True:
        started = time.monotonic()
        async with ctx.db.write(off_loop=True) as conn:
            oldest = (
                select(events.c.seq)
                .where(events.c.conversation_id == expiry.conversation_id, events.c.seq <= upto)
                .order_by(events.c.seq)
                .limit(EVENTS_PER_BATCH)
            )
            dropped = (
                await conn.execute(
                    delete(events).where(
                        events.c.conversation_id == expiry.conversation_id,
                        events.c.seq.in_(oldest.scalar_subquery()),
                    )
                )
            ).rowcount
        report.drop_transactions.append(time.monotonic() - started)
        if not dropped:
            return
        expiry.events += dropped
        await asyncio.sleep(0)


async def run_retention(
    ctx: DomainContext,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    batch: int = MESSAGES_PER_BATCH,
) -> RetentionReport:
    """Apply every retention once; a dry run only counts. It works across people, so as
    the system (hallway.store.acting)."""
    with as_system():
        return await _run_retention(ctx, dry_run=dry_run, now=now, batch=batch)


async def _run_retention(
    ctx: DomainContext, *, dry_run: bool, now: datetime | None, batch: int
) -> RetentionReport:
    report = RetentionReport(dry_run=dry_run)
    started = time.monotonic()
    async with ctx.db.exclusive_job(RETENTION_LOCK_KEY) as mine:
        if not mine:
            report.ran = False
            return report
        for expiry in await expiring_conversations(ctx, now or utcnow()):
            if dry_run:
                await _count(ctx, expiry)
            else:
                await _erase_expired(ctx, expiry, batch, report)
                await _drop_expired_events(ctx, expiry, report)
            if expiry.messages or expiry.events:
                report.conversations.append(expiry)
    report.seconds = time.monotonic() - started
    return report


async def retention_forever(ctx: DomainContext, interval: float) -> None:
    """The server's own runs: one every `interval` seconds."""
    while True:
        await asyncio.sleep(interval)
        try:
            report = await run_retention(ctx)
        except Exception:
            log.exception("the retention job failed; trying again next round")
            continue
        if report.messages or report.events:
            log.info(
                "retention: erased %d messages and %d files, dropped %d events, in %d "
                "conversations (%.1f s)",
                report.messages,
                report.files,
                report.events,
                len(report.conversations),
                report.seconds,
            )
