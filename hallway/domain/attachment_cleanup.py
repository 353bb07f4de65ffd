"""Removing files: those of deleted messages, uploads never sent, uploads that failed.

Removal has two steps. A row is first marked (`deleted_at`), in the same transaction as
whatever made it go; from then on no link to it works and no message can claim it. Then its
stored objects are deleted, and only after that the row. If deleting objects fails, the
marked row stays and the sweeper, which runs periodically in every app process, retries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from hallway.domain.context import DomainContext, Transaction
from hallway.files.staging import remove_stale
from hallway.files.storage import Storage
from hallway.store.acting import as_system
from hallway.store.tables import attachments
from hallway.store.types import utcnow

log = logging.getLogger(__name__)

# Longer than any upload takes to reach storage: an upload's row is marked until its objects
# are stored, so the sweeper leaves marked rows alone this long.
PURGE_GRACE = timedelta(hours=1)
SWEEP_BATCH = 500


async def mark_messages_attachments(
    tx: Transaction, message_ids: Sequence[str]
) -> dict[str, list[str]]:
    """Mark these messages' files for removal, in the transaction that erases them; their
    ids by message. Pass them to `purge_soon` once that transaction has committed."""
    marked = await tx.conn.execute(
        update(attachments)
        .where(attachments.c.message_id.in_(message_ids), attachments.c.deleted_at.is_(None))
        .values(deleted_at=tx.now)
        .returning(attachments.c.id, attachments.c.message_id)
    )
    found: dict[str, list[str]] = {}
    for row in marked:
        found.setdefault(row.message_id, []).append(row.id)
    return found


async def purge_attachments(ctx: DomainContext, ids: Sequence[str]) -> int:
    """Delete the stored objects of these marked attachments, then their rows (any
    person's: the caller's transaction or the sweep marked them)."""
    if not ids:
        return 0
    with as_system():
        return await _purge(ctx, ids)


async def _purge(ctx: DomainContext, ids: Sequence[str]) -> int:
    storage: Storage = ctx.storage
    async with ctx.db.read() as conn:
        rows = list(
            await conn.execute(
                select(attachments.c.id, attachments.c.storage_key, attachments.c.thumb_key).where(
                    attachments.c.id.in_(ids), attachments.c.deleted_at.is_not(None)
                )
            )
        )
    if not rows:
        return 0
    await storage.delete([key for r in rows for key in (r.storage_key, r.thumb_key) if key])
    async with ctx.db.write() as conn:
        await conn.execute(
            delete(attachments).where(
                attachments.c.id.in_([r.id for r in rows]), attachments.c.deleted_at.is_not(None)
            )
        )
    return len(rows)


async def purge_soon(ctx: DomainContext, ids: Sequence[str]) -> None:
    """Purge now if storage answers; otherwise the sweeper does it later."""
    try:
        await purge_attachments(ctx, ids)
    except Exception:
        log.exception("removing %d files failed; the sweeper will retry", len(ids))


async def sweep_attachments(ctx: DomainContext, now: datetime | None = None) -> int:
    """Remove uploads unsent for longer than the orphan TTL, and finish removals that
    failed earlier, of every company. Returns how many files were removed."""
    with as_system():
        return await _sweep(ctx, now or utcnow())


async def _sweep(ctx: DomainContext, now: datetime) -> int:
    orphan_cutoff = now - timedelta(seconds=ctx.settings.orphan_attachment_ttl_seconds)
    async with ctx.db.write() as conn:
        # Marking first means a message sent meanwhile cannot claim a file being removed.
        orphans = await conn.execute(
            update(attachments)
            .where(
                attachments.c.message_id.is_(None),
                attachments.c.deleted_at.is_(None),
                attachments.c.created_at < orphan_cutoff,
            )
            .values(deleted_at=now)
            .returning(attachments.c.id)
        )
        orphan_ids = list(orphans.scalars())
    removed = 0
    for first in range(0, len(orphan_ids), SWEEP_BATCH):
        removed += await purge_attachments(ctx, orphan_ids[first : first + SWEEP_BATCH])
    while ids := await _marked_before(ctx, now - PURGE_GRACE):
        removed += await purge_attachments(ctx, ids)
    storage: Storage = ctx.storage
    await asyncio.to_thread(remove_stale, storage.staging_dir, PURGE_GRACE.total_seconds())
    return removed


async def _marked_before(ctx: DomainContext, cutoff: datetime) -> list[str]:
    async with ctx.db.read() as conn:
        found = await conn.execute(
            select(attachments.c.id)
            .where(attachments.c.deleted_at <= cutoff)
            .order_by(attachments.c.deleted_at)
            .limit(SWEEP_BATCH)
        )
        return list(found.scalars())


async def sweep_forever(ctx: DomainContext) -> None:
    """The app's background sweeper: one pass every `attachment_sweep_interval_seconds`."""
    while True:
        await asyncio.sleep(ctx.settings.attachment_sweep_interval_seconds)
        try:
            removed = await sweep_attachments(ctx)
        except Exception:
            log.exception("sweeping files failed; trying again next round")
        else:
            if removed:
                log.info("removed %d unsent or deleted files", removed)
