"""Apply and inspect Alembic migrations for the configured database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from hallway.store.database import Database

_HERE = Path(__file__).parent


def alembic_config(url: str) -> Config:
    config = Config(str(_HERE / "alembic.ini"))
    config.set_main_option("script_location", str(_HERE / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    return config


def _upgrade(connection: Connection, url: str) -> None:
    config = alembic_config(url)
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _pending(connection: Connection, url: str) -> list[str]:
    script = ScriptDirectory.from_config(alembic_config(url))
    current = set(MigrationContext.configure(connection).get_current_heads())
    heads = set(script.get_heads())
    if current == heads:
        return []
    return [rev.revision for rev in script.walk_revisions() if rev.revision not in current]


# Any fixed number: nodes starting together on one PostgreSQL migrate one at a time.
_MIGRATION_LOCK_KEY = 0x4841_4C4C


def _upgrade_alone(connection: Connection, url: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
    _upgrade(connection, url)


async def upgrade_to_head(db: Database) -> None:
    await db.run_sync(_upgrade_alone, db.url)


async def pending_migrations(db: Database) -> list[str]:
    return await db.run_sync(_pending, db.url)
