"""SQLite calls made on the event loop's own thread, through aiosqlite's interface.

aiosqlite hands every call (cursor, execute, fetch, commit...) to a worker thread and back:
several thread hops per statement, which cost more than the statement itself (measured: an
empty transaction took 0.67 ms, a message send 3.6 ms). A local SQLite statement in WAL mode
takes microseconds, so running it inline is cheaper than any hop, and the one-writer lock in
`Database.write()` means a write never waits on another writer of this process. This is the
laptop / one-process mode; scaled-out deployments use PostgreSQL.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Generator
from typing import Any

import aiosqlite


class _RunNow:
    """Takes aiosqlite's (future, function) work items and runs them at once."""

    @staticmethod
    def put_nowait(item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:
            if future is not None and not future.done():
                future.set_exception(exc)
            return
        if future is not None and not future.done():
            future.set_result(result)


class InlineConnection(aiosqlite.Connection):
    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._tx = _RunNow()  # type: ignore[assignment]

    def __await__(self) -> Generator[Any, None, aiosqlite.Connection]:
        # No worker thread to start: connect right here.
        return self._connect().__await__()

    def begin(self, statement: str) -> None:
        """Start a transaction straight on the sqlite3 connection (no statement machinery:
        through SQLAlchemy's execute path, a BEGIN cost more than the query after it)."""
        self._conn.execute(statement)


def inline_creator(path: str) -> Callable[[], Any]:
    """An `async_creator` for create_async_engine."""

    async def create() -> aiosqlite.Connection:
        return await InlineConnection(lambda: sqlite3.connect(path, check_same_thread=False))

    return create
