"""Many rows into one table fast, in the caller's transaction: PostgreSQL's COPY, SQLite's
executemany on the driver. For imports and the benchmark suite's setup, where rows come by
the thousand and SQLAlchemy's per-row parameter handling would cost more than the inserts.
Values are converted as SQLAlchemy would bind them (each column type's bind processor)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import JSON, Table

from hallway.store.database import Connection, dumps_json

Convert = Callable[[Any], Any] | None
_T = TypeVar("_T")
IDS_PER_STATEMENT = 1_000
"""Values in one `IN (...)` list: well under either database's limit on bound parameters."""


def chunked(items: Sequence[_T], size: int = IDS_PER_STATEMENT) -> Iterator[Sequence[_T]]:
    """`items` in slices of `size`, for statements that name many values."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert `rows` (each with the same keys, named as the table's columns). On
    PostgreSQL the transaction must have begun (a statement through `conn` ran first):
    COPY goes to the driver's connection, inside it."""
    if not rows:
        return
    columns = list(rows[0])
    raw = await conn.driver_connection()
    if conn.dialect.name == "postgresql":
        as_json = [isinstance(table.c[name].type, JSON) for name in columns]
        converts: list[Convert] = [dumps_json if json else None for json in as_json]
        await raw.copy_records_to_table(
            table.name, records=_records(rows, converts), columns=columns
        )
        return
    converts = [table.c[name].type.bind_processor(conn.dialect) for name in columns]
    placeholders = ", ".join("?" for _ in columns)
    raw.executemany(
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({placeholders})",
        _records(rows, converts),
    )


def _records(rows: Sequence[Mapping[str, Any]], converts: list[Convert]) -> list[tuple[Any, ...]]:
    if not any(converts):
        return [tuple(row.values()) for row in rows]
    return [
        tuple(
            value if convert is None or value is None else convert(value)
            for value, convert in zip(row.values(), converts, strict=True)
        )
        for row in rows
    ]
