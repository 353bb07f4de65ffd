"""The engine wrapper: read and write transactions on SQLite or PostgreSQL.

Domain code executes statements on a `Connection` from `Database.read()`, `write()` or
`read_statement()`, never on an engine. PostgreSQL runs through SQLAlchemy's asyncio engine
(asyncpg), and a statement that commits by itself on a connection of asyncpg's own pool.
SQLite runs through SQLAlchemy's plain engine (the standard library's sqlite3), called on
the event loop's own thread: a local SQLite statement in WAL mode takes microseconds, less
than any hand-off to a thread, and SQLAlchemy's asyncio layer would add a greenlet per call
(measured: an empty write transaction took 371 us through it and 118 us without it;
docs/benchmarks.md). This is the one-process laptop mode; scaled-out deployments use
PostgreSQL. The few statements every send and history window runs go through
`Connection.run` with a `Prepared` statement instead (hallway.store.prepared).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager, nullcontext
from typing import Any, TypeVar, TypeVarTuple, overload

import asyncpg
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

from hallway.store.prepared import Prepared, PreparedRow
from hallway.store.sqlite_checkpoint import Checkpointer

_Ts = TypeVarTuple("_Ts")
Parameters = Mapping[str, Any] | Sequence[Mapping[str, Any]]
"""One row's bound values, or many rows' for an executemany."""
_T = TypeVar("_T")


def dumps_json(value: Any) -> str:
    """JSON columns hold datetimes in the same UTC 'Z' form the API answers with."""
    return orjson.dumps(value, option=orjson.OPT_UTC_Z).decode()


class Connection:
    """A connection inside one of Database's transactions, whatever the engine: a plain
    SQLAlchemy connection on SQLite, an asyncio one on PostgreSQL, or for a PostgreSQL
    statement that commits by itself, asyncpg's own connection (which runs `Prepared`
    statements only)."""

    __slots__ = ("_async", "_raw", "_sync", "dialect")

    def __init__(
        self,
        conn: SyncConnection | AsyncConnection | asyncpg.Connection,
        dialect: Dialect | None = None,
    ) -> None:
        self._sync = conn if isinstance(conn, SyncConnection) else None
        self._async = conn if isinstance(conn, AsyncConnection) else None
        self._raw = conn if isinstance(conn, asyncpg.Connection) else None
        if self._raw is None:
            dialect = conn.dialect
        assert dialect is not None
        self.dialect: Dialect = dialect

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
        if self._async is None:
            raise TypeError("a statement that commits by itself runs as a Prepared (run)")
        return await self._async.execute(statement, parameters)

    async def run(self, prepared: Prepared, parameters: Mapping[str, Any]) -> list[PreparedRow]:
        """A hot statement's rows, on the driver itself wherever that keeps the
        transaction's meaning: on SQLite (Database issues BEGIN itself) and for a
        PostgreSQL statement that commits by itself. Inside a PostgreSQL transaction the
        same SQL and values go through SQLAlchemy's connection, whose driver adapter
        begins the transaction with its first statement."""
        if self._async is not None:
            return await prepared.run_in_sqlalchemy(self._async, parameters)
        if self._sync is not None:
            driver = self._sync.connection.driver_connection
            return prepared.run_sqlite(driver, self.dialect, parameters)  # type: ignore[arg-type]
        assert self._raw is not None
        return await prepared.run_asyncpg(self._raw, self.dialect, parameters)

    async def driver_connection(self) -> Any:
        """The driver's own connection (sqlite3 or asyncpg), for what SQLAlchemy does not
        offer, such as PostgreSQL's COPY for bulk loads."""
        if self._sync is not None:
            return self._sync.connection.driver_connection
        if self._async is not None:
            return (await self._async.get_raw_connection()).driver_connection
        return self._raw

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
        self._statement_pool: asyncpg.Pool | None = None
        self._statement_pool_lock = asyncio.Lock()
        # One connection of that pool, kept out of it (see _statement_connection).
        self._held_statement: asyncpg.Connection | None = None
        self._held_statement_busy = False
        self._async: AsyncEngine | None = None
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
            self._reader = self._async.execution_options(isolation_level="REPEATABLE READ")
            self._statement_dsn = make_url(url).set(drivername="postgresql")
            self._statement_pool_size = 2 * pool_size  # as many as SQLAlchemy's at most

    @property
    def dialect(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql"

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Connection]:
        """A read transaction that sees one snapshot throughout: SQLite's deferred
        transaction does; PostgreSQL's default (read committed) would not."""
        if self._sqlite is not None:
            with self._sqlite_transaction("BEGIN") as sync_conn:
                yield Connection(sync_conn)
            return
        async with self._reader.connect() as conn, conn.begin():
            yield Connection(conn)

    async def read_statement(
        self, prepared: Prepared, params: Mapping[str, Any]
    ) -> list[PreparedRow]:
        """The rows of one query. One statement reads one snapshot by itself, so it runs
        without a transaction: on PostgreSQL no BEGIN and COMMIT round trips."""
        if self._sqlite is not None:
            return await Connection(self._held("reader")).run(prepared, params)
        async with self._statement_connection() as conn:
            return await conn.run(prepared, params)

    @asynccontextmanager
    async def write(self, *, one_statement: bool = False) -> AsyncIterator[Connection]:
        """A write transaction: committed on normal exit, rolled back on any exception.

        With `one_statement` the caller runs a single `Prepared` statement (`Connection.run`),
        which PostgreSQL then commits by itself (atomic all the same): no BEGIN and COMMIT
        round trips."""
        if self._sqlite is None:
            assert self._async is not None
            if one_statement:
                async with self._statement_connection() as conn:
                    yield conn
                return
            async with self._async.begin() as conn:
                yield Connection(conn)
            return
        async with self._write_lock:
            with self._sqlite_transaction("BEGIN IMMEDIATE", self._held("writer")) as sync_conn:
                yield Connection(sync_conn)
        if self._checkpointer is not None:
            self._checkpointer.wake()

    @asynccontextmanager
    async def _statement_connection(self) -> AsyncIterator[Connection]:
        """PostgreSQL: a connection of asyncpg's own pool, for a statement that commits by
        itself. SQLAlchemy's asyncio pool spent about 130 us of CPU checking a connection
        out and in again around a `SELECT 1` of 25; asyncpg's, 35-45 (docs/benchmarks.md).
        One of its connections is held out of it for whichever statement finds it free,
        which saves even that; statements that overlap it check one out."""
        pool = self._statement_pool or await self._open_statement_pool()
        assert self._async is not None
        if self._held_statement_busy:
            async with pool.acquire() as raw:
                yield Connection(raw, self._async.dialect)
            return
        self._held_statement_busy = True
        try:
            held = self._held_statement
            if held is None:
                held = self._held_statement = await pool.acquire()
            clean = False
            try:
                yield Connection(held, self._async.dialect)
                clean = not held.is_in_transaction() and not held.is_closed()
            finally:
                if not clean:
                    # After an error, a cancelled query or a transaction left open, the pool
                    # puts it right (waits the cancel out, rolls back, or closes it).
                    self._held_statement = None
                    await pool.release(held)
        finally:
            self._held_statement_busy = False

    async def _open_statement_pool(self) -> asyncpg.Pool:
        async with self._statement_pool_lock:
            if self._statement_pool is None:
                self._statement_pool = await asyncpg.create_pool(
                    self._statement_dsn.render_as_string(hide_password=False),
                    min_size=0,
                    max_size=self._statement_pool_size,
                    init=_decode_json_as_sqlalchemy_does,
                    reset=_keep_session,
                )
            return self._statement_pool

    def _held(self, role: str) -> SyncConnection:
        """SQLite: a connection kept open for one role on the loop's thread, where a pool
        checkout and return cost 35 us of an empty write transaction's 50 (measured). The
        writer's transactions are one at a time under the write lock, and a one-statement
        read never gives the loop up while it runs; a transaction that may (`read`) takes
        a connection of its own from the pool. One that broke is invalidated by
        SQLAlchemy, which connects it again when next used."""
        assert self._sqlite is not None
        conn = self._held_connections.get(role)
        if conn is None:
            conn = self._held_connections[role] = self._sqlite.connect()
        return conn

    @contextmanager
    def _sqlite_transaction(
        self, begin: str, held: SyncConnection | None = None
    ) -> Iterator[SyncConnection]:
        """A SQLite transaction begun by our own statement, on `held` or on a connection
        from the pool: the driver's transaction handling is off (see _configure_sqlite),
        and SQLAlchemy's commit or rollback ends it. Not through a "begin" event: any
        connection event makes SQLAlchemy dispatch events around every statement (10-18
        us each, measured)."""
        assert self._sqlite is not None
        with nullcontext(held) if held is not None else self._sqlite.connect() as conn:
            conn.connection.driver_connection.execute(begin)  # type: ignore[union-attr]
            with conn.begin():
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
        if self._statement_pool is not None:
            if self._held_statement is not None:
                await self._statement_pool.release(self._held_statement)
                self._held_statement = None
            await self._statement_pool.close()
            self._statement_pool = None
        if self._async is not None:
            await self._async.dispose()


async def _decode_json_as_sqlalchemy_does(conn: asyncpg.Connection) -> None:
    """The JSON codecs SQLAlchemy's asyncpg dialect sets on its own connections, so that a
    Prepared statement's values and rows are the same whichever pool ran it."""
    await conn.set_type_codec(
        "json",
        encoder=str.encode,
        decoder=lambda value: json.loads(value.decode()),
        schema="pg_catalog",
        format="binary",
    )
    # PostgreSQL's binary jsonb starts with a version byte, 1.
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda value: b"\x01" + value.encode(),
        decoder=lambda value: json.loads(value[1:].decode()),
        schema="pg_catalog",
        format="binary",
    )


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """In place of asyncpg's reset query on release (RESET ALL, UNLISTEN * and more): a
    round trip each time for session state these statements never change. asyncpg still
    rolls back a transaction left open before it calls this."""


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
