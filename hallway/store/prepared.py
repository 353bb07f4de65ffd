"""Hot statements: compiled once per dialect and run on the driver's own connection.

SQLAlchemy's execution path costs 150-200 us a statement on this machine before the
database does anything (an execution context, result metadata, Row objects, and on
PostgreSQL a greenlet per call); a history page's query itself takes 30-200 us on SQLite.
For the few statements every send and every history page runs, `Prepared` compiles the
Core statement once, takes each bind's and each result column's processor from SQLAlchemy
itself (so values convert exactly as through SQLAlchemy), and hands the SQL and values to
sqlite3 or asyncpg, whose own statement caches then prepare it once per connection.

Rows come back as plain tuples, in the statement's column order.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import exc
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.selectable import ExecutableReturnsRows

Processor = Callable[[Any], Any]
PreparedRow = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the bind parameter of each placeholder, in order
    constants: dict[str, Any]  # values the statement carries itself (literals)
    bind_processors: tuple[tuple[int, Processor], ...]  # (placeholder, processor)
    result_processors: tuple[tuple[int, Processor], ...]  # (column, processor)


class Prepared:
    """A SELECT, or a DML statement with or without RETURNING, to run many times."""

    __slots__ = ("_compiled", "statement")

    def __init__(self, statement: ExecutableReturnsRows) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, str], _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        """Compiled once per dialect and driver, not per engine: every Database configures
        its engines alike (the JSON serializer the JSON columns' processors carry)."""
        key = (dialect.name, dialect.driver)
        found = self._compiled.get(key)
        if found is None:
            found = self._compiled[key] = _compile(self.statement, dialect)
        return found

    def _bound(self, dialect: Dialect, params: Mapping[str, Any]) -> tuple[_Compiled, list[Any]]:
        """The compiled statement and its placeholders' values, converted for the driver."""
        compiled = self._for(dialect)
        try:
            values = [
                params[name] if name in params else compiled.constants[name]
                for name in compiled.names
            ]
        except KeyError as missing:
            raise exc.ArgumentError(f"no value for bind parameter {missing}") from None
        for at, process in compiled.bind_processors:
            values[at] = process(values[at])
        return compiled, values

    def run_sqlite(
        self, conn: sqlite3.Connection, dialect: Dialect, params: Mapping[str, Any]
    ) -> list[PreparedRow]:
        compiled, values = self._bound(dialect, params)
        try:
            rows = conn.execute(compiled.sql, values).fetchall()
        except sqlite3.Error as error:
            raise exc.DBAPIError.instance(compiled.sql, values, error, sqlite3.Error) from error
        return _processed(rows, compiled.result_processors)

    async def run_asyncpg(
        self, conn: asyncpg.Connection, dialect: Dialect, params: Mapping[str, Any]
    ) -> list[PreparedRow]:
        compiled, values = self._bound(dialect, params)
        try:
            rows = await conn.fetch(compiled.sql, *values)
        except asyncpg.IntegrityConstraintViolationError as error:
            raise exc.IntegrityError(compiled.sql, values, error) from error
        except asyncpg.DataError as error:
            raise exc.DataError(compiled.sql, values, error) from error
        except asyncpg.PostgresError as error:
            raise exc.DBAPIError(compiled.sql, values, error) from error
        return _processed(rows, compiled.result_processors)

    async def run_in_sqlalchemy(
        self, conn: AsyncConnection, params: Mapping[str, Any]
    ) -> list[PreparedRow]:
        """The same SQL and values through SQLAlchemy's own connection: inside a PostgreSQL
        transaction, whose BEGIN SQLAlchemy's driver adapter issues with the first statement
        it runs."""
        compiled, values = self._bound(conn.dialect, params)
        result = await conn.exec_driver_sql(compiled.sql, tuple(values))
        rows = result.fetchall() if result.returns_rows else []
        return _processed(rows, compiled.result_processors)


def _processed(
    rows: Sequence[Any], processors: tuple[tuple[int, Processor], ...]
) -> list[PreparedRow]:
    if not processors:
        return [tuple(row) for row in rows]
    processed = []
    for row in rows:
        values = list(row)
        for at, process in processors:
            values[at] = process(values[at])
        processed.append(tuple(values))
    return processed


def _compile(statement: ExecutableReturnsRows, dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)
    names = tuple(compiled.positiontup or ())
    binds = compiled.binds
    bind_processors = []
    for at, name in enumerate(names):
        process = binds[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            bind_processors.append((at, process))
    result_processors = []
    for at, column in enumerate(statement.exported_columns):
        process = column.type.dialect_impl(dialect).result_processor(dialect, None)
        if process is not None:
            result_processors.append((at, process))
    return _Compiled(
        sql=compiled.string,
        names=names,
        constants={n: binds[n].effective_value for n in names if not binds[n].required},
        bind_processors=tuple(bind_processors),
        result_processors=tuple(result_processors),
    )
