"""Literal SQL on the driver (hallway.store.driver_sql) answers and stores exactly what
SQLAlchemy does, on SQLite and on PostgreSQL, inside a transaction and as a statement that
commits by itself; and PostgreSQL's statements that commit by themselves share SQLAlchemy's
one pool."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from hallway.config import Settings
from hallway.store.database import Database, dumps_json
from hallway.store.driver_sql import driver_statement
from hallway.store.tables import events
from tests.support import insert_channel, on_postgresql

pytestmark = pytest.mark.anyio

MOMENT = datetime(2026, 12, 1, 21, 30, 15, 123456, tzinfo=UTC)

INSERT_EVENT = driver_statement(
    "INSERT INTO events (conversation_id, seq, kind, payload, created_at, message_id)"
    " VALUES (:cid, :seq, 'message.created', :payload, :created_at, NULL)"
)
EVENTS_OF = driver_statement(
    "SELECT seq, kind, created_at, 'constant' AS carried,"
    " EXISTS (SELECT 1 FROM conversations WHERE conversations.id = events.conversation_id)"
    " AS has_conversation"
    " FROM events WHERE conversation_id = :cid ORDER BY seq",
    timestamps=("created_at",),
)
BACKEND_PID = driver_statement(postgresql="SELECT pg_backend_pid() AS pid")
SLEEP = driver_statement(
    postgresql="SELECT pg_backend_pid() AS pid, pg_sleep(CAST(:seconds AS float8)) AS slept"
)
DUPLICATE = (sqlite3.IntegrityError, asyncpg.UniqueViolationError, IntegrityError)
AS_INTEGER = driver_statement(postgresql="SELECT CAST(CAST(:text AS text) AS integer) AS n")


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.effective_migration_database_url)
    yield database
    await database.dispose()


def event(cid: str, seq: int, **payload: object) -> dict[str, object]:
    return {
        "cid": cid,
        "seq": seq,
        "payload": dumps_json({"body": "héllo", "at": MOMENT, **payload}),
        "created_at": MOMENT + timedelta(seconds=seq),
    }


async def test_rows_match_sqlalchemys_and_values_round_trip(db: Database) -> None:
    cid = await insert_channel(db, MOMENT)
    async with db.write() as conn:
        await conn.fetch(INSERT_EVENT, event(cid, 1))
        await conn.fetch(INSERT_EVENT, event(cid, 2, n=[1, None]))

    async with db.write(off_loop=True) as conn:
        await conn.fetch(INSERT_EVENT, event(cid, 3))

    alone = await db.read_statement(EVENTS_OF, {"cid": cid})
    async with db.read(off_loop=True) as conn:
        off_the_loop = await conn.fetch(EVENTS_OF, {"cid": cid})
    async with db.read() as conn:
        in_a_transaction = await conn.fetch(EVENTS_OF, {"cid": cid})
        through_sqlalchemy = await conn.execute(
            select(events.c.seq, events.c.payload, events.c.created_at)
            .where(events.c.conversation_id == cid)
            .order_by(events.c.seq)
        )
        stored = [dict(row) for row in through_sqlalchemy.mappings()]

    assert [dict(r) for r in alone] == in_a_transaction == off_the_loop
    assert [r["seq"] for r in alone] == [1, 2, 3]
    assert [(r["seq"], r["created_at"]) for r in alone] == [
        (r["seq"], r["created_at"]) for r in stored
    ]
    first = alone[0]
    assert first["created_at"] == MOMENT + timedelta(seconds=1)
    assert first["created_at"].tzinfo is UTC
    assert (first["kind"], first["carried"], bool(first["has_conversation"])) == (
        "message.created",
        "constant",
        True,
    )
    # The JSON written as text is the column's JSON: read back by SQLAlchemy as an object.
    assert stored[0]["payload"] == {"body": "héllo", "at": "2026-12-01T21:30:15.123456Z"}
    assert stored[1]["payload"]["n"] == [1, None]


async def test_a_statement_that_commits_by_itself(db: Database) -> None:
    cid = await insert_channel(db, MOMENT)
    await db.write_statement(INSERT_EVENT, event(cid, 7))
    assert [r["seq"] for r in await db.read_statement(EVENTS_OF, {"cid": cid})] == [7]


async def test_rolled_back_with_its_transaction(db: Database) -> None:
    cid = await insert_channel(db, MOMENT)
    with pytest.raises(RuntimeError):
        async with db.write() as conn:
            await conn.fetch(INSERT_EVENT, event(cid, 1))
            raise RuntimeError("undo")
    assert await db.read_statement(EVENTS_OF, {"cid": cid}) == []


async def test_a_missing_parameter_or_a_naive_datetime_is_refused(db: Database) -> None:
    cid = await insert_channel(db, MOMENT)
    incomplete = event(cid, 1)
    del incomplete["payload"]
    naive = {**event(cid, 2), "created_at": datetime(2026, 12, 2, 5, 0)}
    for refused, message in ((incomplete, "payload"), (naive, "naive")):
        with pytest.raises(ValueError, match=message):
            async with db.write() as conn:
                await conn.fetch(INSERT_EVENT, refused)
    assert await db.read_statement(EVENTS_OF, {"cid": cid}) == []


async def test_a_violated_constraint_writes_nothing(db: Database) -> None:
    cid = await insert_channel(db, MOMENT)
    await db.write_statement(INSERT_EVENT, event(cid, 1))
    with pytest.raises(DUPLICATE):
        await db.write_statement(INSERT_EVENT, event(cid, 1, again=True))
    with pytest.raises(DUPLICATE):
        async with db.write() as conn:
            await conn.execute(text("SELECT 1"))
            await conn.fetch(INSERT_EVENT, event(cid, 1, again=True))
    async with db.read() as conn:
        payloads = await conn.execute(
            select(events.c.payload).where(events.c.conversation_id == cid)
        )
        assert ["again" in p for p in payloads.scalars()] == [False]


# PostgreSQL's statements that commit by themselves run on connections of SQLAlchemy's
# pool; SQLite has no such connection.


async def _pid(db: Database) -> int:
    return int((await db.read_statement(BACKEND_PID, {}))[0]["pid"])


@on_postgresql
async def test_overlapping_statements_each_get_a_connection_of_their_own(db: Database) -> None:
    """Statements that overlap each take a connection; once done, they keep them for the
    next statements rather than hand them back to the pool."""
    first = await _pid(db)
    assert await _pid(db) == first
    together = await asyncio.gather(*(_pid(db) for _ in range(3)))
    assert len(set(together)) == 3 and first in together
    again = await asyncio.gather(*(_pid(db) for _ in range(3)))
    assert set(again) == set(together)


@on_postgresql
async def test_the_pool_is_the_only_one(settings: Settings) -> None:
    """However many statements overlap, they open no more connections than SQLAlchemy's
    pool allows (pool_size, and as many again in overflow): the rest wait for one."""
    small = Database(settings.effective_migration_database_url, pool_size=1)
    try:
        rows = await asyncio.wait_for(
            asyncio.gather(*(small.read_statement(SLEEP, {"seconds": 0.1}) for _ in range(5))),
            20,
        )
    finally:
        await small.dispose()
    assert len({found[0]["pid"] for found in rows}) == 2


@on_postgresql
async def test_after_a_failed_or_cancelled_statement_the_next_runs_on_a_sound_connection(
    db: Database,
) -> None:
    with pytest.raises(asyncpg.InvalidTextRepresentationError):
        await db.read_statement(AS_INTEGER, {"text": "twelve"})
    assert [r["n"] for r in await db.read_statement(AS_INTEGER, {"text": "12"})] == [12]

    sleeping = asyncio.create_task(db.read_statement(SLEEP, {"seconds": 30.0}))
    await asyncio.sleep(0.2)
    sleeping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sleeping
    again = await asyncio.wait_for(db.read_statement(AS_INTEGER, {"text": "7"}), 5)
    assert [r["n"] for r in again] == [7]
    async with db.read() as conn:  # the cancelled query no longer runs on the server
        running = await conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep%'"
                " AND state = 'active' AND pid <> pg_backend_pid()"
            )
        )
        assert running.scalar_one() == 0


@on_postgresql
async def test_a_connection_left_in_a_transaction_is_never_handed_on(settings: Settings) -> None:
    """It is dropped, and its place in the pool given back: with room for two connections,
    two statements still run side by side afterwards."""
    begin = driver_statement(postgresql="BEGIN")
    small = Database(settings.effective_migration_database_url, pool_size=1)
    try:
        left_open = await _pid(small)
        await small.write_statement(begin, {})
        assert await _pid(small) != left_open
        cid = await insert_channel(small, MOMENT)
        await small.write_statement(INSERT_EVENT, event(cid, 1))
        together = await asyncio.wait_for(
            asyncio.gather(*(small.read_statement(SLEEP, {"seconds": 0.1}) for _ in range(2))),
            10,
        )
        assert len({rows[0]["pid"] for rows in together}) == 2
        async with small.read() as conn:
            logged = await conn.execute(select(events.c.seq).where(events.c.conversation_id == cid))
            assert logged.scalars().all() == [1]
    finally:
        await small.dispose()
