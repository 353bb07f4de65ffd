"""Hot statements run on the driver (hallway.store.prepared) answer and store exactly what
the same statements do through SQLAlchemy, on SQLite and on PostgreSQL, inside a
transaction and in a statement that commits by itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Float, Integer, Text, bindparam, cast, exists, func, literal, select, text
from sqlalchemy.exc import ArgumentError, DataError, IntegrityError

from hallway.config import Settings
from hallway.store.database import Database
from hallway.store.prepared import Prepared
from hallway.store.tables import conversations, events
from tests.support import STACKS, insert_channel

pytestmark = pytest.mark.anyio

MOMENT = datetime(2026, 12, 1, 21, 30, 15, 123456, tzinfo=UTC)

INSERT_EVENT = Prepared(events.insert())
EVENTS_OF = Prepared(
    select(
        events.c.seq,
        events.c.kind,
        events.c.payload,
        events.c.created_at,
        literal("constant").label("carried"),
        exists().where(conversations.c.id == events.c.conversation_id).label("has_conversation"),
    )
    .where(events.c.conversation_id == bindparam("cid"))
    .order_by(events.c.seq)
)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.effective_database_url)
    yield database
    await database.dispose()


def event(conversation_id: str, seq: int, **payload: object) -> dict[str, object]:
    return {
        "conversation_id": conversation_id,
        "seq": seq,
        "kind": "message.created",
        "payload": {"body": "héllo", "at": MOMENT, **payload},
        "created_at": MOMENT + timedelta(seconds=seq),
        "message_id": None,
    }


async def test_rows_match_sqlalchemys_and_values_round_trip(db: Database) -> None:
    cid = await insert_channel(db, MOMENT)
    async with db.write() as conn:
        await conn.run(INSERT_EVENT, event(cid, 1))
        await conn.run(INSERT_EVENT, event(cid, 2, n=[1, None]))

    prepared_rows = await db.read_statement(EVENTS_OF, {"cid": cid})
    async with db.read() as conn:
        through_sqlalchemy = [
            tuple(r) for r in await conn.execute(EVENTS_OF.statement, {"cid": cid})
        ]
        in_a_transaction = await conn.run(EVENTS_OF, {"cid": cid})

    assert prepared_rows == through_sqlalchemy == in_a_transaction
    first, second = prepared_rows
    # JSON went in as an object and comes out as one, datetimes in UTC 'Z' form inside it.
    assert first[2] == {"body": "héllo", "at": "2026-12-01T21:30:15.123456Z"}
    assert second[2]["n"] == [1, None]
    assert first[3] == MOMENT + timedelta(seconds=1)
    assert first[3].tzinfo is not None
    assert first[4:] == ("constant", True)


async def test_a_statement_that_commits_by_itself(db: Database) -> None:
    cid = await insert_channel(db, MOMENT)
    async with db.write(one_statement=True) as conn:
        await conn.run(INSERT_EVENT, event(cid, 7))
    assert [r[0] for r in await db.read_statement(EVENTS_OF, {"cid": cid})] == [7]


async def test_rolled_back_with_its_transaction(db: Database) -> None:
    cid = await insert_channel(db, MOMENT)
    with pytest.raises(RuntimeError):
        async with db.write() as conn:
            await conn.run(INSERT_EVENT, event(cid, 1))
            raise RuntimeError("undo")
    assert await db.read_statement(EVENTS_OF, {"cid": cid}) == []


@pytest.mark.parametrize("one_statement", [False, True])
async def test_constraint_violation_is_sqlalchemys_integrity_error(
    db: Database, one_statement: bool
) -> None:
    cid = await insert_channel(db, MOMENT)
    async with db.write() as conn:
        await conn.run(INSERT_EVENT, event(cid, 1))
    with pytest.raises(IntegrityError):
        async with db.write(one_statement=one_statement) as conn:
            await conn.run(INSERT_EVENT, event(cid, 1, again=True))
    (only,) = await db.read_statement(EVENTS_OF, {"cid": cid})
    assert "again" not in only[2]


async def test_a_missing_parameter_is_refused_before_anything_runs(db: Database) -> None:
    cid = await insert_channel(db, MOMENT)
    incomplete = event(cid, 1)
    del incomplete["kind"]
    with pytest.raises(ArgumentError, match="kind"):
        async with db.write() as conn:
            await conn.run(INSERT_EVENT, incomplete)
    assert await db.read_statement(EVENTS_OF, {"cid": cid}) == []


# asyncpg's own pool serves PostgreSQL's statements that commit by themselves; SQLite has
# no such connection (empty on a laptop without PostgreSQL, run by CI).
ON_POSTGRESQL = pytest.mark.parametrize("stack", [s for s in STACKS if s == "postgresql"])


@ON_POSTGRESQL
async def test_a_statement_connection_never_hands_on_an_open_transaction(db: Database) -> None:
    """Its release skips asyncpg's reset query, but a transaction left open still ends."""
    cid = await insert_channel(db, MOMENT)
    small = Database(db.url, pool_size=1)  # two statement connections at most
    try:
        async with small.write(one_statement=True) as conn:
            left_open = await conn.driver_connection()
            server_pid = left_open.get_server_pid()
            await left_open.execute("BEGIN")
            await conn.run(INSERT_EVENT, event(cid, 1))
        for _ in range(3):  # until the same connection comes back
            async with small.write(one_statement=True) as conn:
                raw = await conn.driver_connection()
                if raw.get_server_pid() == server_pid:
                    assert not raw.is_in_transaction()
                    await conn.run(INSERT_EVENT, event(cid, 2))
                    break
        else:
            pytest.fail("the connection never came back")
    finally:
        await small.dispose()
    assert [r[0] for r in await db.read_statement(EVENTS_OF, {"cid": cid})] == [2]


BACKEND_PID = Prepared(select(func.pg_backend_pid()))
SLEEP = Prepared(select(func.pg_backend_pid(), func.pg_sleep(bindparam("seconds", type_=Float))))
AS_INTEGER = Prepared(select(cast(bindparam("text", type_=Text), Integer)))


@ON_POSTGRESQL
async def test_overlapping_statements_each_get_a_connection_of_their_own(db: Database) -> None:
    """One connection is held out of the pool for whichever statement finds it free;
    statements overlapping it take the pool's."""
    held = await db.read_statement(BACKEND_PID, {})
    assert await db.read_statement(BACKEND_PID, {}) == held
    together = await asyncio.gather(*(db.read_statement(BACKEND_PID, {}) for _ in range(3)))
    assert together[0] == held
    assert len({rows[0][0] for rows in together}) == 3
    assert await db.read_statement(BACKEND_PID, {}) == held


@ON_POSTGRESQL
async def test_after_a_failed_or_cancelled_statement_the_next_runs_on_a_sound_connection(
    db: Database,
) -> None:
    with pytest.raises(DataError):
        await db.read_statement(AS_INTEGER, {"text": "twelve"})
    assert await db.read_statement(AS_INTEGER, {"text": "12"}) == [(12,)]

    sleeping = asyncio.create_task(db.read_statement(SLEEP, {"seconds": 30.0}))
    await asyncio.sleep(0.2)
    sleeping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sleeping
    assert await asyncio.wait_for(db.read_statement(AS_INTEGER, {"text": "7"}), 5) == [(7,)]
    async with db.read() as conn:  # the cancelled query no longer runs on the server
        running = await conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep%'"
                " AND state = 'active' AND pid <> pg_backend_pid()"
            )
        )
        assert running.scalar_one() == 0


@ON_POSTGRESQL
async def test_a_statement_connection_runs_prepared_statements_only(db: Database) -> None:
    async with db.write(one_statement=True) as conn:
        with pytest.raises(TypeError, match="Prepared"):
            await conn.execute(select(literal(1)))
