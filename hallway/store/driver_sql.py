"""Literal SQL handed to the driver beneath SQLAlchemy: sqlite3 or asyncpg.

The few statements every send and every history window runs go to the driver as they are,
through its public API, with no SQLAlchemy execution in between: SQLAlchemy's execution
path (an execution context, result metadata, Row objects, and on PostgreSQL a greenlet per
call) costs more than those statements take in the database. Their text lives in
hallway.store.message_log, written once per dialect; the drivers' own statement caches
prepare each once per connection. Rows come back as dicts, read by column name.

The values are converted here as the schema's types would convert them
(hallway.store.types.UTCDateTime): aware datetimes in, and SQLite's timestamps, kept as text
without an offset, back to aware datetimes in UTC.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection

Row = Mapping[str, Any]
"""A row by column name: a dict, or asyncpg's Record, which is read the same way."""
# A `:name` parameter; not the `::type` of a PostgreSQL cast.
_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@dataclass(frozen=True, slots=True)
class DriverStatement:
    """One statement for each dialect it runs on, with `:name` parameters."""

    sqlite: str | None
    """As sqlite3 takes it: `:name` parameters, from a dict."""
    sqlite_names: tuple[str, ...]
    """The parameters of the SQLite text."""
    postgresql: str | None
    """As asyncpg takes it: `$1`..`$n`."""
    names: tuple[str, ...]
    """The parameter behind each `$n` of the PostgreSQL text."""
    timestamps: tuple[str, ...]
    """The result columns that are timestamps (SQLite answers them as text)."""

    def text_for(self, dialect: str) -> str:
        text = self.sqlite if dialect == "sqlite" else self.postgresql
        if text is None:
            raise ValueError(f"this statement has no {dialect} form")
        return text

    def fetch_sqlite(self, conn: sqlite3.Connection, params: Mapping[str, Any]) -> list[Row]:
        cursor = conn.execute(self.text_for("sqlite"), self._sqlite_parameters(params))
        if cursor.description is None:
            return []
        return self._sqlite_rows([column[0] for column in cursor.description], cursor.fetchall())

    async def fetch_asyncpg(self, conn: asyncpg.Connection, params: Mapping[str, Any]) -> list[Row]:
        """On a connection in no transaction, the statement commits by itself."""
        records: list[Row] = await conn.fetch(
            self.text_for("postgresql"), *self._positional(params)
        )
        return records

    async def fetch_in_sqlalchemy(
        self, conn: AsyncConnection, params: Mapping[str, Any]
    ) -> list[Row]:
        """Inside SQLAlchemy's asyncio transaction, which on PostgreSQL its driver adapter
        begins with the first statement: the same text and values, through SQLAlchemy (on
        SQLite, that is a connection working on a thread of its own: Database's off_loop)."""
        if conn.dialect.name == "sqlite":
            result = await conn.exec_driver_sql(
                self.text_for("sqlite"), self._sqlite_parameters(params)
            )
            if not result.returns_rows:
                return []
            return self._sqlite_rows(list(result.keys()), result.all())
        result = await conn.exec_driver_sql(
            self.text_for("postgresql"), tuple(self._positional(params))
        )
        if not result.returns_rows:
            return []
        names = list(result.keys())
        return [dict(zip(names, values, strict=True)) for values in result.all()]

    def _sqlite_parameters(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return _sqlite_values(_named(params, self.sqlite_names))

    def _sqlite_rows(self, names: list[str], records: Sequence[Sequence[Any]]) -> list[Row]:
        """Rows by column name, with SQLite's timestamp text read back as aware datetimes."""
        timestamps = [name for name in names if name in self.timestamps]
        rows: list[Row] = []
        for values in records:
            row = dict(zip(names, values, strict=True))
            for name in timestamps:
                if row[name] is not None:
                    row[name] = datetime.fromisoformat(row[name] + "+00:00")
            rows.append(row)
        return rows

    def _positional(self, params: Mapping[str, Any]) -> list[Any]:
        values = list(_named(params, self.names).values())
        for value in values:
            if isinstance(value, datetime):
                _require_aware(value)
        return values


def driver_statement(
    both: str | None = None,
    *,
    sqlite: str | None = None,
    postgresql: str | None = None,
    timestamps: tuple[str, ...] = (),
) -> DriverStatement:
    """A statement from its text for both dialects, or from each dialect's own."""
    if both is not None:
        sqlite = postgresql = both
    names: list[str] = []

    def numbered(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    numbered_text = None if postgresql is None else _PARAMETER.sub(numbered, postgresql)
    sqlite_names = () if sqlite is None else tuple(dict.fromkeys(_PARAMETER.findall(sqlite)))
    return DriverStatement(sqlite, sqlite_names, numbered_text, tuple(names), timestamps)


def _named(params: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The values of these parameters, in this order."""
    try:
        return {name: params[name] for name in names}
    except KeyError as missing:
        raise ValueError(f"no value for parameter {missing}") from None


def _sqlite_values(values: dict[str, Any]) -> dict[str, Any]:
    """UTCDateTime's text for each datetime: UTC, without the offset."""
    for name, value in values.items():
        if isinstance(value, datetime):
            values[name] = (
                _require_aware(value)
                .astimezone(UTC)
                .replace(tzinfo=None)
                .isoformat(" ", "microseconds")
            )
    return values


def _require_aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTCDateTime column")
    return value
