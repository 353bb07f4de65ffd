"""Many rows into one table fast, in the caller's transaction: PostgreSQL's COPY, SQLite's
executemany. For imports and the benchmark suite's setup, where rows come by the thousand."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Table

from hallway.store.database import Connection, dumps_json


async def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert `rows` (each with the same keys, named as the table's columns). On
    PostgreSQL the transaction must have begun (a statement through `conn` ran first):
    COPY goes to the driver's connection, inside it."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        await conn.execute(table.insert(), list(rows))
        return
    columns = list(rows[0])
    as_json = [isinstance(table.c[name].type, JSON) for name in columns]
    records = [
        tuple(
            dumps_json(value) if json else value
            for value, json in zip(row.values(), as_json, strict=True)
        )
        for row in rows
    ]
    raw = await conn.driver_connection()
    await raw.copy_records_to_table(table.name, records=records, columns=columns)
