"""Alembic environment: runs migrations over the configured database (hallway.store.migrate
hands in a connection; the `alembic` command line goes through Database)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from hallway.store.database import Database
from hallway.store.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_on(url: str) -> None:
    db = Database(url)
    try:
        await db.run_sync(_run)
    finally:
        await db.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_on(config.get_main_option("sqlalchemy.url") or ""))
