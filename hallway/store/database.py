"""The engine wrapper: read and write transactions on SQLite or PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import orjson
from sqlalchemy import Executable, Row, event, make_url, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from hallway.store.sqlite_inline import inline_creator


def dumps_json(value: Any) -> str:
    """JSON columns hold datetimes in the same UTC 'Z' form the API answers with."""
    return orjson.dumps(value, option=orjson.OPT_UTC_Z).decode()


class Database:
    """Owns the engine. Domain code opens transactions here, never on the engine itself.

    SQLite allows one writer at a time. Instead of letting concurrent writers collide and
    retry on SQLITE_BUSY, writes in this process queue on a lock and begin with
    `BEGIN IMMEDIATE`, so a write transaction never fails half-way for lack of the lock.
    PostgreSQL needs neither: row locks order the writers.
    """

    def __init__(self, url: str, *, pool_size: int = 8, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo, "json_serializer": dumps_json}
        if self.is_sqlite:
            kwargs["async_creator"] = inline_creator(make_url(url).database or ":memory:")
        else:
            # No pre-ping: it costs a round trip per checkout; stale connections are
            # recycled instead and a dead one fails one request, not every request.
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        # The same pool with each kind of transaction's options set once, not per call.
        if self.is_sqlite:
            self._reader = self._single = self.engine
            self._writer = self.engine.execution_options(sqlite_begin="BEGIN IMMEDIATE")
        else:
            self._reader = self.engine.execution_options(isolation_level="REPEATABLE READ")
            self._single = self.engine.execution_options(isolation_level="AUTOCOMMIT")
            self._writer = self.engine
        self._write_lock = asyncio.Lock()
        if self.is_sqlite:
            _configure_sqlite(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read transaction that sees one snapshot throughout: SQLite's deferred
        transaction does; PostgreSQL's default (read committed) would not."""
        async with self._reader.connect() as conn, conn.begin():
            yield conn

    async def read_statement(
        self, statement: Executable, params: Mapping[str, Any]
    ) -> list[Row[Any]]:
        """The rows of one query. One statement reads one snapshot by itself, so on
        PostgreSQL it runs without a transaction: no BEGIN and COMMIT round trips."""
        async with self._single.connect() as conn:
            return list(await conn.execute(statement, params))

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed on normal exit, rolled back on any exception."""
        if not self.is_sqlite:
            async with self._writer.begin() as conn:
                yield conn
            return
        async with self._write_lock, self._writer.begin() as conn:
            yield conn

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # Take transaction control away from the driver so BEGIN is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        statement = conn.get_execution_options().get("sqlite_begin", "BEGIN")
        conn.connection.driver_connection.begin(statement)
