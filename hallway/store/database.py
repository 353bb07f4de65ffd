"""The engine wrapper: read and write transactions on SQLite or PostgreSQL.

Domain code executes statements on a `Connection` from `Database.read()` or `write()`, or runs
one statement by itself (`read_statement`, `write_statement`), never on an engine. Each
database has one engine and one pool, SQLAlchemy's. PostgreSQL runs through SQLAlchemy's
asyncio engine (asyncpg). SQLite runs through SQLAlchemy's plain engine (the standard
library's sqlite3), called on the event loop's own thread: a local SQLite statement in WAL
mode takes less time than any hand-off to a thread, and SQLAlchemy's asyncio layer would
add a greenlet per call. Work that can take long (search, the search index's batches) asks
for `off_loop=True`: its statements run through a second engine over aiosqlite, whose
connections each work on a thread of their own, so that a slow statement never stalls the
sockets the loop serves. This is the one-process laptop mode; scaled-out deployments use
PostgreSQL. The conversation log's hot statements run on the driver beneath SQLAlchemy
(`Connection.fetch`, hallway.store.driver_sql).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, TypeVar, TypeVarTuple, overload

import orjson
from sqlalchemy import Connection as SyncConnection
from sqlalchemy import (
    CursorResult,
    Engine,
    Executable,
    create_engine,
    event,
    make_url,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool
from sqlalchemy.sql.selectable import TypedReturnsRows

from hallway.store import acting
from hallway.store.acting import NOBODY, Acting
from hallway.store.driver_sql import DriverStatement, Row
from hallway.store.sqlite_checkpoint import Checkpointer

_Ts = TypeVarTuple("_Ts")
Parameters = Mapping[str, Any] | Sequence[Mapping[str, Any]]
"""One row's bound values, or many rows' for an executemany."""
_T = TypeVar("_T")

# Whom a transaction acts for (hallway.store.acting): until it ends, in one round trip.
_ACT_IN_TRANSACTION = (
    "SELECT set_config('hallway.user_id', $1, true), set_config('hallway.company_id', $2, true),"
    " set_config('hallway.system', $3, true)"
)
# The same for a connection that runs statements alone (Database._on_driver): until changed.
_ACT_ON_CONNECTION = _ACT_IN_TRANSACTION.replace("true)", "false)")


def dumps_json(value: Any) -> str:
    """JSON columns hold datetimes in the same UTC 'Z' form the API answers with."""
    return orjson.dumps(value, option=orjson.OPT_UTC_Z).decode()


@dataclass(frozen=True, slots=True)
class PoolUse:
    """A PostgreSQL pool's connections: in use (those held for statements included), open
    and idle in the pool, and the most it may open."""

    checked_out: int
    idle: int
    capacity: int


class Connection:
    """A connection inside one of Database's transactions: a plain SQLAlchemy connection on
    SQLite, an asyncio one on PostgreSQL and for SQLite's work off the loop."""

    __slots__ = ("_async", "_sync", "dialect")

    def __init__(self, conn: SyncConnection | AsyncConnection) -> None:
        self._sync = conn if isinstance(conn, SyncConnection) else None
        self._async = conn if isinstance(conn, AsyncConnection) else None
        self.dialect: Dialect = conn.dialect

    @overload
    async def execute(
        self,
        statement: TypedReturnsRows[*_Ts],
        parameters: Parameters | None = None,
    ) -> CursorResult[*_Ts]: ...

    @overload
    async def execute(
        self, statement: Executable, parameters: Parameters | None = None
    ) -> CursorResult[*tuple[Any, ...]]: ...

    async def execute(
        self, statement: Executable, parameters: Parameters | None = None
    ) -> CursorResult[*tuple[Any, ...]]:
        if self._sync is not None:
            return self._sync.execute(statement, parameters)
        assert self._async is not None
        return await self._async.execute(statement, parameters)

    async def fetch(self, statement: DriverStatement, parameters: Mapping[str, Any]) -> list[Row]:
        """A hot statement's rows, in this transaction: on SQLite straight on the driver
        (Database issues BEGIN itself); on PostgreSQL through SQLAlchemy's connection, whose
        driver adapter begins the transaction with its first statement."""
        if self._sync is not None:
            driver = self._sync.connection.driver_connection
            return statement.fetch_sqlite(driver, parameters)  # type: ignore[arg-type]
        assert self._async is not None
        return await statement.fetch_in_sqlalchemy(self._async, parameters)

    async def driver_connection(self) -> Any:
        """The driver's own connection (sqlite3 or asyncpg), for what SQLAlchemy does not
        offer, such as PostgreSQL's COPY for bulk loads."""
        if self._sync is not None:
            return self._sync.connection.driver_connection
        assert self._async is not None
        return (await self._async.get_raw_connection()).driver_connection

    @asynccontextmanager
    async def begin_nested(self) -> AsyncIterator[None]:
        """A savepoint: what runs inside is undone alone if it raises."""
        if self._sync is not None:
            with self._sync.begin_nested():
                yield
            return
        assert self._async is not None
        async with self._async.begin_nested():
            yield


def sqlite_path(url: str) -> str | None:
    """The database file of a SQLite URL (any driver named in it), None for another engine."""
    parsed = make_url(url)
    return (parsed.database or ":memory:") if parsed.get_backend_name() == "sqlite" else None


class Database:
    """Owns the engine. Domain code opens transactions here, never on the engine itself.

    SQLite allows one writer at a time. Instead of letting concurrent writers collide and
    retry on SQLITE_BUSY, writes in this process queue on a lock and begin with
    `BEGIN IMMEDIATE`, so a write transaction never fails half-way for lack of the lock.
    PostgreSQL needs neither: row locks order the writers.
    """

    def __init__(self, url: str, *, pool_size: int = 8, echo: bool = False) -> None:
        self.url = url
        path = sqlite_path(url)
        self.is_sqlite = path is not None
        self._write_lock = asyncio.Lock()
        self._checkpointer: Checkpointer | None = None
        self._sqlite: Engine | None = None
        self._held_connections: dict[str, SyncConnection] = {}
        self._async: AsyncEngine | None = None
        self._sqlite_off_loop: AsyncEngine | None = None
        # PostgreSQL: pooled connections kept checked out, idle, for statements that commit
        # by themselves (see _on_driver).
        self._statement_connections: list[_StatementConnection] = []
        # PostgreSQL: whether row-level security holds this URL's role, so that each
        # transaction and statement says whom it acts for (detect_row_security).
        self.row_security = False
        self._statement_connections_kept = pool_size
        if path is not None:
            file_backed = path != ":memory:"
            self._sqlite = create_engine(
                f"sqlite:///{path}",
                echo=echo,
                json_serializer=dumps_json,
                # Never make the event loop wait for a connection: a pooled one is reused, a
                # missing one opened (a file open, microseconds).
                **({"poolclass": QueuePool, "max_overflow": -1} if file_backed else {}),
            )
            _configure_sqlite(self._sqlite, checkpoint_in_background=file_backed)
            if file_backed:
                self._checkpointer = Checkpointer(path)
                # An in-memory database is private to its one connection: its off-loop work
                # stays on the loop.
                self._sqlite_off_loop = create_async_engine(
                    f"sqlite+aiosqlite:///{path}", echo=echo, json_serializer=dumps_json
                )
                _configure_sqlite(self._sqlite_off_loop.sync_engine, checkpoint_in_background=True)
        else:
            # No pre-ping: it costs a round trip per checkout; stale connections are
            # recycled instead and a dead one fails one request, not every request.
            self._async = create_async_engine(
                url,
                echo=echo,
                json_serializer=dumps_json,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_recycle=1800,
            )
            self._pool_capacity = 2 * pool_size
            self._reader = self._async.execution_options(isolation_level="REPEATABLE READ")

    @property
    def dialect(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql"

    @asynccontextmanager
    async def read(self, *, off_loop: bool = False) -> AsyncIterator[Connection]:
        """A read transaction that sees one snapshot throughout: SQLite's deferred
        transaction does; PostgreSQL's default (read committed) would not. `off_loop`: the
        work may take long, so on SQLite its statements run on a thread (PostgreSQL's
        always wait without holding the loop)."""
        if self._sqlite is not None:
            if off_loop and self._sqlite_off_loop is not None:
                async with self._off_loop_transaction("BEGIN") as async_conn:
                    yield Connection(async_conn)
                return
            with self._sqlite_transaction("BEGIN") as sync_conn:
                yield Connection(sync_conn)
            return
        async with self._reader.connect() as conn, conn.begin():
            if self.row_security:
                await _act_in_transaction(conn, acting.current())
            yield Connection(conn)

    @asynccontextmanager
    async def write(self, *, off_loop: bool = False) -> AsyncIterator[Connection]:
        """A write transaction: committed on normal exit, rolled back on any exception.
        `off_loop` as for `read`: on SQLite it still takes its turn among the writes."""
        if self._sqlite is None:
            assert self._async is not None
            async with self._async.begin() as conn:
                if self.row_security:
                    await _act_in_transaction(conn, acting.current())
                yield Connection(conn)
            return
        async with self._write_lock:
            if off_loop and self._sqlite_off_loop is not None:
                async with self._off_loop_transaction("BEGIN IMMEDIATE") as async_conn:
                    yield Connection(async_conn)
            else:
                with self._sqlite_transaction("BEGIN IMMEDIATE", self._held("writer")) as sync_conn:
                    yield Connection(sync_conn)
        if self._checkpointer is not None:
            self._checkpointer.wake()

    async def detect_row_security(self) -> bool:
        """Ask PostgreSQL whether row-level security holds this URL's role (an app role,
        not the tables' owner); from then on, if so, every transaction and statement says
        whom it acts for. Call it once the schema is migrated. SQLite has none."""
        if self._async is None:
            return False
        async with self._async.connect() as conn:
            # Any table with policies would do; they are enabled together (migration 0010).
            held = await conn.scalar(text("SELECT row_security_active('messages')"))
        self.row_security = bool(held)
        return self.row_security

    async def read_statement(
        self, statement: DriverStatement, params: Mapping[str, Any], who: Acting | None = None
    ) -> list[Row]:
        """The rows of one query, for `who` (default: hallway.store.acting.current()). One
        statement reads one snapshot by itself, so it runs without a transaction: on
        PostgreSQL no BEGIN and COMMIT round trips."""
        if self._sqlite is not None:
            return statement.fetch_sqlite(self._held_driver("reader"), params)
        return await self._on_driver(statement, params, who)

    async def write_statement(
        self, statement: DriverStatement, params: Mapping[str, Any], who: Acting | None = None
    ) -> list[Row]:
        """The rows of one statement that writes, for `who` as read_statement's, committed
        by itself (atomic all the same): on PostgreSQL no BEGIN and COMMIT round trips. On
        SQLite it is a transaction of one statement, which takes its turn among the
        writes."""
        if self._sqlite is None:
            return await self._on_driver(statement, params, who)
        async with self.write() as conn:
            return await conn.fetch(statement, params)

    async def _on_driver(
        self, statement: DriverStatement, params: Mapping[str, Any], who: Acting | None
    ) -> list[Row]:
        """PostgreSQL: one statement on the driver of a pooled connection in no transaction,
        where it commits by itself. The connections these statements used stay checked out
        (up to pool_size of them) for the next ones: a checkout and return through
        SQLAlchemy's pool costs more CPU than such a statement. They are the pool's all the
        same, counted against its size.

        Under row-level security the acting person is a setting of the connection's session
        (a transaction to hold it for one statement would cost a BEGIN and a COMMIT round
        trip): each kept connection remembers whom it acts for, and is told only when the
        next statement is someone else's, before it runs. A connection whose setting is in
        doubt (the change failed or was cancelled) is never used again, and one handed back
        to the pool is told it acts for nobody first."""
        assert self._async is not None
        if self._statement_connections:
            held = self._statement_connections.pop()
        else:
            conn = await self._async.connect()
            held = _StatementConnection(conn, (await conn.get_raw_connection()).driver_connection)
        driver = held.driver
        try:
            if self.row_security:
                await held.act_for(acting.current() if who is None else who)
            return await statement.fetch_asyncpg(driver, params)
        finally:
            # A statement that failed or was cancelled leaves its connection usable (asyncpg
            # waits a cancelled one out before the next); one found closed, or left in a
            # transaction, is never handed on.
            if driver.is_closed() or driver.is_in_transaction() or held.acting_for is None:
                await held.conn.invalidate()
                await held.conn.close()
            elif len(self._statement_connections) < self._statement_connections_kept:
                self._statement_connections.append(held)
            else:
                await held.give_back()

    def _held(self, role: str) -> SyncConnection:
        """SQLite: a connection kept open for one role on the loop's thread, which saves a
        pool checkout and return, most of an empty write transaction's cost. The writer's
        transactions are one at a time under the write lock, and a one-statement read never
        gives the loop up while it runs; a transaction that may (`read`) takes a connection
        of its own from the pool. One that broke is invalidated by SQLAlchemy, which
        connects it again when next used."""
        assert self._sqlite is not None
        conn = self._held_connections.get(role)
        if conn is None:
            conn = self._held_connections[role] = self._sqlite.connect()
        return conn

    def _held_driver(self, role: str) -> Any:
        """The sqlite3 connection beneath `_held(role)`."""
        return self._held(role).connection.driver_connection

    @contextmanager
    def _sqlite_transaction(
        self, begin: str, held: SyncConnection | None = None
    ) -> Iterator[SyncConnection]:
        """A SQLite transaction begun by our own statement, on `held` or on a connection
        from the pool: the driver's transaction handling is off (see _configure_sqlite),
        and SQLAlchemy's commit or rollback ends it. Not through a "begin" event: any
        connection event makes SQLAlchemy dispatch events around every statement."""
        assert self._sqlite is not None
        with nullcontext(held) if held is not None else self._sqlite.connect() as conn:
            conn.connection.driver_connection.execute(begin)  # type: ignore[union-attr]
            with conn.begin():
                yield conn

    @asynccontextmanager
    async def _off_loop_transaction(self, begin: str) -> AsyncIterator[AsyncConnection]:
        """A SQLite transaction on the aiosqlite engine, begun by our own statement as in
        `_sqlite_transaction`; SQLAlchemy's commit or rollback ends it."""
        assert self._sqlite_off_loop is not None
        async with self._sqlite_off_loop.connect() as conn, conn.begin():
            await conn.exec_driver_sql(begin)
            yield conn

    async def run_sync(self, function: Callable[..., _T], *args: Any) -> _T:
        """`function(connection, *args)` on a plain SQLAlchemy connection in a transaction
        (Alembic and schema inspection work that way)."""
        if self._sqlite is not None:
            with self._sqlite_transaction("BEGIN IMMEDIATE") as sync_conn:
                return function(sync_conn, *args)
        assert self._async is not None
        async with self._async.begin() as conn:
            return await conn.run_sync(function, *args)

    @asynccontextmanager
    async def exclusive_job(self, key: int) -> AsyncIterator[bool]:
        """Whether this process may run the job named by `key` now: on PostgreSQL, True for
        the one session holding the advisory lock on `key` until the block ends, False
        for every other (another node runs it). On SQLite, always True: its deployments are
        one process, and jobs written for several nodes are safe to repeat."""
        if self._async is None:
            yield True
            return
        async with self._async.connect() as conn:
            held = bool(
                (
                    await conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
                ).scalar_one()
            )
            await conn.commit()
            try:
                yield held
            finally:
                if held:
                    await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                    await conn.commit()

    def pool_use(self) -> PoolUse | None:
        """The pool's connections now (PostgreSQL); None on SQLite, whose connections are
        files opened on demand."""
        if self._async is None:
            return None
        pool = self._async.pool
        assert isinstance(pool, QueuePool)  # create_async_engine's default for PostgreSQL
        return PoolUse(pool.checkedout(), pool.checkedin(), self._pool_capacity)

    async def ping(self) -> None:
        if self._sqlite is not None:
            with self._sqlite.connect() as conn:
                conn.execute(text("SELECT 1"))
            return
        assert self._async is not None
        async with self._async.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
        for conn in self._held_connections.values():
            conn.close()
        self._held_connections.clear()
        if self._sqlite is not None:
            self._sqlite.dispose()
        if self._sqlite_off_loop is not None:
            await self._sqlite_off_loop.dispose()
        for held in self._statement_connections:
            await held.give_back()
        self._statement_connections.clear()
        if self._async is not None:
            await self._async.dispose()


async def _act_in_transaction(conn: AsyncConnection, who: Acting) -> None:
    await conn.exec_driver_sql(_ACT_IN_TRANSACTION, who.settings())


class _StatementConnection:
    """A pooled connection kept for statements run alone, with whom its session acts for
    (NOBODY until told otherwise; None while that is in doubt)."""

    __slots__ = ("acting_for", "conn", "driver")

    def __init__(self, conn: AsyncConnection, driver: Any) -> None:
        self.conn = conn
        self.driver = driver
        self.acting_for: Acting | None = NOBODY

    async def act_for(self, who: Acting) -> None:
        if who == self.acting_for:
            return
        self.acting_for = None
        await self.driver.execute(_ACT_ON_CONNECTION, *who.settings())
        self.acting_for = who

    async def give_back(self) -> None:
        """Return the connection to the pool acting for nobody (or close it for good)."""
        try:
            await self.act_for(NOBODY)
        except BaseException:
            await self.conn.invalidate()
            raise
        finally:
            await self.conn.close()


def _configure_sqlite(engine: Engine, *, checkpoint_in_background: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # Take transaction control away from the driver so BEGIN is ours to emit
        # (Database._sqlite_transaction).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        if checkpoint_in_background:
            # The Checkpointer's thread copies the log back into the database (and waits
            # for the disk) instead of whichever commit crosses SQLite's threshold; this
            # far larger threshold is only a backstop should that thread fall behind.
            cursor.execute(f"PRAGMA wal_autocheckpoint={Checkpointer.BACKSTOP_PAGES}")
        cursor.close()
