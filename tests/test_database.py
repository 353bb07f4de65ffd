"""The SQLite side of the Database wrapper: statements on the loop's thread, long work off
it, a connection each for the writer and for one-statement reads, a pool that never makes
the loop wait for the rest, savepoints, and WAL checkpoints on a thread of their own."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from hallway.store.database import Database
from hallway.store.driver_sql import driver_statement
from hallway.store.migrate import upgrade_to_head
from hallway.store.sqlite_checkpoint import Checkpointer
from hallway.store.tables import companies
from hallway.store.types import utcnow

pytestmark = pytest.mark.anyio


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'hallway.db'}")
    await upgrade_to_head(database)
    yield database
    await database.dispose()


async def add_company(db: Database, name: str = "Acme") -> str:
    company_id = str(uuid.uuid4())
    async with db.write() as conn:
        await conn.execute(companies.insert().values(id=company_id, name=name, created_at=utcnow()))
    return company_id


async def count_companies(db: Database) -> int:
    async with db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(companies))).scalar_one())


async def test_more_open_transactions_than_the_pool_keeps_never_wait(db: Database) -> None:
    # Statements run on the loop's thread: a pool that made a checkout wait would wait for
    # a connection only this same, now blocked, thread could give back.
    async with AsyncExitStack() as open_transactions:
        connections = [await open_transactions.enter_async_context(db.read()) for _ in range(30)]
        answers = [(await conn.execute(text("SELECT 1"))).scalar_one() for conn in connections]
    assert answers == [1] * 30


async def test_a_failed_write_leaves_nothing_and_a_savepoint_undoes_only_its_part(
    db: Database,
) -> None:
    with pytest.raises(RuntimeError):
        async with db.write() as conn:
            await conn.execute(
                companies.insert().values(id=str(uuid.uuid4()), name="Gone", created_at=utcnow())
            )
            raise RuntimeError("changed my mind")
    assert await count_companies(db) == 0

    async with db.write() as conn:
        await conn.execute(
            companies.insert().values(id=str(uuid.uuid4()), name="Kept", created_at=utcnow())
        )
        with pytest.raises(RuntimeError):
            async with conn.begin_nested():
                await conn.execute(
                    companies.insert().values(
                        id=str(uuid.uuid4()), name="Undone", created_at=utcnow()
                    )
                )
                raise RuntimeError("only this part")
    async with db.read() as conn:
        names = [row.name for row in await conn.execute(select(companies.c.name))]
    assert names == ["Kept"]


async def test_writes_queue_instead_of_colliding(db: Database) -> None:
    # Interleaved write transactions, each yielding to the loop half-way: without the
    # write lock the second BEGIN IMMEDIATE would wait on the first one's file lock.
    async def write(name: str) -> None:
        async with db.write() as conn:
            await conn.execute(
                companies.insert().values(id=str(uuid.uuid4()), name=name, created_at=utcnow())
            )
            await asyncio.sleep(0.01)

    await asyncio.gather(*(write(f"c{k}") for k in range(10)))
    assert await count_companies(db) == 10


async def test_one_statement_reads_never_see_a_write_in_progress(db: Database) -> None:
    """Writes and one-statement reads keep a connection each (no pool checkout): a read
    while a write transaction waits half-way sees only what is committed."""
    count = driver_statement("SELECT count(*) AS n FROM companies")
    started, resume = asyncio.Event(), asyncio.Event()

    async def write() -> None:
        async with db.write() as conn:
            await conn.execute(
                companies.insert().values(id=str(uuid.uuid4()), name="New", created_at=utcnow())
            )
            started.set()
            await resume.wait()

    writing = asyncio.create_task(write())
    await started.wait()
    assert await db.read_statement(count, {}) == [{"n": 0}]
    resume.set()
    await writing
    assert await db.read_statement(count, {}) == [{"n": 1}]


async def test_a_write_whose_connection_broke_leaves_the_next_one_a_new_one(
    db: Database,
) -> None:
    with pytest.raises(DBAPIError):
        async with db.write() as conn:
            (await conn.driver_connection()).close()
            await conn.execute(text("SELECT 1"))
    await add_company(db)
    assert await count_companies(db) == 1


async def test_the_connections_leave_checkpoints_to_the_checkpointer(db: Database) -> None:
    async with db.write() as conn:
        pages = (await conn.execute(text("PRAGMA wal_autocheckpoint"))).scalar_one()
    assert pages == Checkpointer.BACKSTOP_PAGES


async def test_the_checkpointer_copies_committed_pages_back(tmp_path: Path) -> None:
    path = tmp_path / "hallway.db"
    db = Database(f"sqlite:///{path}")
    try:
        await upgrade_to_head(db)
        for k in range(20):
            await add_company(db, f"company {k}")
        # The writes' pages wait in the log (the connections leave checkpoints alone).
        plain = sqlite3.connect(path)
        try:
            assert plain.execute("SELECT count(*) FROM companies").fetchone() == (20,)
            in_log, copied = Checkpointer(str(path)).checkpoint()
            assert in_log > 0
            assert copied == in_log
            # A second checkpoint finds every frame already copied back.
            assert Checkpointer(str(path)).checkpoint() == (in_log, in_log)
        finally:
            plain.close()
    finally:
        await db.dispose()


async def test_the_background_thread_checkpoints_after_writes(db: Database) -> None:
    checkpointer = db._checkpointer
    assert checkpointer is not None
    for k in range(5):
        await add_company(db, f"company {k}")
    for _ in range(100):  # a liveness wait, not a timing assertion
        if checkpointer.runs > 0:
            break
        await asyncio.sleep(0.05)
    assert checkpointer.runs > 0


# A statement long enough that the loop, if free, gets round many times while it runs.
LONG_STATEMENT = text(
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000)"
    " SELECT count(*) FROM n"
)


async def loop_turns_during(work: Callable[[], Awaitable[object]]) -> int:
    """How many times another task got the loop while `work` ran."""
    turns = 0
    running = True

    async def turn() -> None:
        nonlocal turns
        while running:
            await asyncio.sleep(0)
            turns += 1

    other = asyncio.create_task(turn())
    await asyncio.sleep(0)
    before = turns
    try:
        await work()
        return turns - before
    finally:
        running = False
        await other


async def test_long_work_off_the_loop_lets_other_tasks_run(db: Database) -> None:
    async def read(*, off_loop: bool) -> None:
        async with db.read(off_loop=off_loop) as conn:
            assert (await conn.execute(LONG_STATEMENT)).scalar_one() == 1_000_000

    async def write(*, off_loop: bool) -> None:
        async with db.write(off_loop=off_loop) as conn:
            await conn.execute(LONG_STATEMENT)
            await conn.execute(
                companies.insert().values(id=str(uuid.uuid4()), name="Off", created_at=utcnow())
            )

    # On the loop's thread a statement holds the loop: nothing else runs meanwhile.
    assert await loop_turns_during(lambda: read(off_loop=False)) == 0
    assert await loop_turns_during(lambda: write(off_loop=False)) == 0
    assert await loop_turns_during(lambda: read(off_loop=True)) > 0
    assert await loop_turns_during(lambda: write(off_loop=True)) > 0
    assert await count_companies(db) == 2


async def test_off_loop_writes_take_their_turn_among_the_writes(db: Database) -> None:
    """An off-loop write holds the one write lock too: writes on both engines never
    collide (SQLITE_BUSY) and all commit."""

    async def off_loop_write(n: int) -> None:
        async with db.write(off_loop=True) as conn:
            await conn.execute(LONG_STATEMENT)
            await conn.execute(
                companies.insert().values(
                    id=str(uuid.uuid4()), name=f"Off {n}", created_at=utcnow()
                )
            )

    await asyncio.gather(
        *(off_loop_write(n) for n in range(3)), *(add_company(db) for _ in range(5))
    )
    assert await count_companies(db) == 8
