"""UTCDateTime (hallway.store.types): aware datetimes in, the same instants in UTC out, on
SQLite and PostgreSQL, through SQLAlchemy and through literal SQL on the driver alike
(hallway.store.driver_sql)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, select
from sqlalchemy.dialects import sqlite

from hallway.config import Settings
from hallway.store.database import Database
from hallway.store.driver_sql import driver_statement
from hallway.store.types import UTCDateTime

pytestmark = pytest.mark.anyio

STAMPS = Table(
    f"stamps_{uuid.uuid4().hex[:8]}",
    MetaData(),
    Column("n", Integer, primary_key=True),
    Column("at", UTCDateTime),
)
INSERT = driver_statement(f"INSERT INTO {STAMPS.name} (n, at) VALUES (:n, :at)")
ALL = driver_statement(f"SELECT n, at FROM {STAMPS.name} ORDER BY n", timestamps=("at",))
SINCE = driver_statement(f"SELECT n FROM {STAMPS.name} WHERE at >= :since ORDER BY n")

INSTANTS = [
    datetime(2026, 12, 2, 5, 39, 57, 22467, tzinfo=UTC),
    datetime(2026, 12, 2, 11, 0, 0, 7, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC),
    datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=-8))),
]


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.effective_migration_database_url)
    await database.run_sync(STAMPS.create)
    yield database
    await database.run_sync(STAMPS.drop)
    await database.dispose()


async def test_instants_come_back_in_utc_however_they_were_written(db: Database) -> None:
    async with db.write() as conn:
        for n, at in enumerate(INSTANTS[:2]):
            await conn.fetch(INSERT, {"n": n, "at": at})
        await conn.execute(STAMPS.insert(), [{"n": 2, "at": INSTANTS[2]}, {"n": 3, "at": None}])
    rows = [(r["n"], r["at"]) for r in await db.read_statement(ALL, {})]
    assert [at for _, at in rows] == [*(i.astimezone(UTC) for i in INSTANTS[:3]), None]
    assert all(at is None or at.tzinfo is UTC for _, at in rows)
    async with db.read() as conn:
        assert [tuple(r) for r in await conn.execute(select(STAMPS))] == rows
    # Compared in the database as instants, whatever zone the bound value is in: 05:30 UTC
    # (n=1) is given as 02:30 at UTC-3; 05:39 UTC (n=0) is later, the year 999 earlier.
    since = INSTANTS[1].astimezone(timezone(timedelta(hours=-3)))
    assert [r["n"] for r in await db.read_statement(SINCE, {"since": since})] == [0, 1]


@pytest.mark.parametrize("stack", ["sqlite"])
async def test_sqlite_stores_the_text_sqlalchemys_datetime_writes(db: Database) -> None:
    async with db.write() as conn:
        for n, at in enumerate(INSTANTS):
            await conn.fetch(INSERT, {"n": n, "at": at})
        driver = await conn.driver_connection()
        stored = [r[0] for r in driver.execute(f"SELECT at FROM {STAMPS.name} ORDER BY n")]
    plain = DateTime().dialect_impl(sqlite.dialect()).bind_processor(sqlite.dialect())
    assert plain is not None
    assert stored == [plain(at.astimezone(UTC).replace(tzinfo=None)) for at in INSTANTS]


async def test_a_naive_datetime_is_refused(db: Database) -> None:
    with pytest.raises(ValueError, match="naive"):
        async with db.write() as conn:
            await conn.fetch(INSERT, {"n": 1, "at": datetime(2026, 12, 2, 5, 0)})
    assert await db.read_statement(ALL, {}) == []
