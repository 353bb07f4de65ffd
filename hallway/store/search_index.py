"""SQLite's search index, brought up to date in batches rather than inside every send.

FTS5 writes a new segment of its index at the end of each transaction that adds to it: as a
trigger on the message INSERT that was about half of a send's own SQLite work, while in a
batch of a few hundred messages each costs next to nothing (docs/notes/performance.md).
Every message with a rowid up to `message_search_progress.indexed_upto` is in the index
(migration 0005 keeps the triggers to those rows); `index_pending` adds the ones after it.
The app runs it a few times a second, and search runs it before each query, so a search
still finds every message whose send had returned. PostgreSQL's index is a generated
column: nothing to do.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text

from hallway.store.database import Connection, Database

log = logging.getLogger(__name__)

BATCH = 2_000  # messages a transaction: one index segment, and the write lock held briefly
# A backlog up to one batch (more than a quarter second of busy sends) is indexed on the
# loop's own writer connection; a larger one (a bulk import, a server that was down) on a
# thread. Handing every small batch to the off-loop engine made each send several times
# as costly (docs/architecture.md, "SQLite: short statements on the loop").
ON_LOOP_BACKLOG = 2_000

_PENDING = text(
    "SELECT indexed_upto, (SELECT max(rowid) FROM messages) FROM message_search_progress"
)
_BATCH_END = text(
    "SELECT max(rowid) FROM "
    "(SELECT rowid FROM messages WHERE rowid > :upto ORDER BY rowid LIMIT :batch)"
)
_INDEX = text(
    "INSERT INTO message_search(rowid, body) "
    "SELECT rowid, body FROM messages WHERE rowid > :upto AND rowid <= :end ORDER BY rowid"
)
_ADVANCE = text("UPDATE message_search_progress SET indexed_upto = :end")


async def _pending(conn: Connection) -> tuple[int, int] | None:
    """(indexed_upto, the last rowid) when some message is not in the index yet."""
    upto, last = (await conn.execute(_PENDING)).one()
    return (int(upto), int(last)) if last is not None and last > upto else None


async def _index_one_batch(db: Database, batch: int, *, off_loop: bool) -> int:
    async with db.write(off_loop=off_loop) as conn:
        pending = await _pending(conn)  # again: another process may have done it meanwhile
        if pending is None:
            return 0
        upto = pending[0]
        end = int((await conn.execute(_BATCH_END, {"upto": upto, "batch": batch})).scalar_one())
        indexed = (await conn.execute(_INDEX, {"upto": upto, "end": end})).rowcount
        await conn.execute(_ADVANCE, {"end": end})
    return int(indexed)


async def index_pending(db: Database, batch: int = BATCH) -> int:
    """Index every message not in the index yet, `batch` a transaction; the number
    indexed. With nothing to do it costs one read and takes no write lock."""
    if not db.is_sqlite:
        return 0
    async with db.read() as conn:
        pending = await _pending(conn)
    if pending is None:
        return 0
    upto, last = pending
    off_loop = last - upto > ON_LOOP_BACKLOG
    total = 0
    while indexed := await _index_one_batch(db, batch, off_loop=off_loop):
        total += indexed
        await asyncio.sleep(0)  # a long backlog (a bulk import) lets requests in between
    return total


async def index_forever(db: Database, interval: float = 0.25) -> None:
    """The app's background indexer (SQLite only): `index_pending` every `interval` s."""
    while True:
        await asyncio.sleep(interval)
        try:
            await index_pending(db)
        except Exception:
            log.exception("indexing messages for search failed; trying again next round")
