"""Migrations go down and up again: the search index (0003) leaves nothing behind when
removed, and indexes the messages that exist when it is added."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection

from hallway.store import search, search_index
from hallway.store.database import Database
from hallway.store.migrate import alembic_config, upgrade_to_head
from hallway.store.tables import companies, conversations, messages
from hallway.store.types import utcnow
from tests.support import (
    RUN_DATABASE,
    TEST_DATABASE_URL,
    create_run_database,
    drop_run_database,
    insert_channel,
    insert_message,
    run_database_url,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
async def db(stack: str, tmp_path: Path) -> AsyncIterator[Database]:
    """An empty database of its own: this test moves its schema back and forth."""
    if stack == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'migrations.db'}")
        yield database
        await database.dispose()
        return
    assert TEST_DATABASE_URL
    name = f"{RUN_DATABASE}_migrations"
    await create_run_database(TEST_DATABASE_URL, name)
    database = Database(run_database_url(TEST_DATABASE_URL, name))
    try:
        yield database
    finally:
        await database.dispose()
        await drop_run_database(TEST_DATABASE_URL, name)


def _migrate(connection: Connection, url: str, direction: str, revision: str) -> None:
    config = alembic_config(url)
    config.attributes["connection"] = connection
    getattr(command, direction)(config, revision)


async def migrate(db: Database, direction: str, revision: str) -> None:
    await db.run_sync(_migrate, db.url, direction, revision)


def _search_objects(connection: Connection) -> set[str]:
    """The search index's tables, triggers, columns and indexes that exist."""
    inspector = inspect(connection)
    found = set(inspector.get_table_names()) & {"message_search"}
    found |= {c["name"] for c in inspector.get_columns("messages")} & {"search_vector"}
    found |= {str(i["name"]) for i in inspector.get_indexes("messages")} & {
        "ix_messages_search",
        "ix_messages_created",
    }
    if connection.dialect.name == "sqlite":
        triggers = connection.execute(text("SELECT name FROM sqlite_master WHERE type='trigger'"))
        found |= {row.name for row in triggers}
    return found


async def search_objects(db: Database) -> set[str]:
    return await db.run_sync(_search_objects)


async def found(db: Database, word: str) -> list[str]:
    if "message_search_progress" in await db.run_sync(lambda c: inspect(c).get_table_names()):
        await search_index.index_pending(db)
    query = select(messages.c.body)
    if db.is_sqlite:
        query = search.sqlite_matches(query, [word], prefix_last=False)
    else:
        query = search.postgresql_matches(query, [word], prefix_last=False)
    async with db.read() as conn:
        return [row.body for row in await conn.execute(query)]


async def test_the_search_index_goes_down_and_up_with_the_messages_in_it(db: Database) -> None:
    await upgrade_to_head(db)
    everything = (
        {"message_search", "message_search_insert", "message_search_update"}
        | {"message_search_delete"}
        if db.is_sqlite
        else {"search_vector", "ix_messages_search", "ix_messages_created"}
    )
    assert await search_objects(db) == everything
    conversation_id = await insert_channel(db, utcnow())
    await insert_message(db, conversation_id, 1, "needle before")

    await migrate(db, "downgrade", "0002")
    assert await search_objects(db) == set()
    await insert_message(db, conversation_id, 2, "needle while away")

    await migrate(db, "upgrade", "head")
    assert await search_objects(db) == everything
    assert sorted(await found(db, "needle")) == ["needle before", "needle while away"]
    await insert_message(db, conversation_id, 3, "needle after")
    assert len(await found(db, "needle")) == 3


async def test_channels_sharing_a_name_are_renamed_when_names_become_unique(
    db: Database,
) -> None:
    await migrate(db, "upgrade", "0003")
    company_id, other_company = str(uuid.uuid4()), str(uuid.uuid4())
    made = [
        (company_id, "channel", "General"),
        (company_id, "channel", "general"),
        (company_id, "channel", "GENERAL"),
        (company_id, "channel", "Random"),
        (company_id, "group", "General"),
        (other_company, "channel", "general"),
    ]
    ids = []
    async with db.write() as conn:
        for company in (company_id, other_company):
            await conn.execute(
                companies.insert().values(id=company, name="Acme", created_at=utcnow())
            )
        for company, kind, title in made:
            ids.append(str(uuid.uuid4()))
            await conn.execute(
                conversations.insert().values(
                    id=ids[-1],
                    company_id=company,
                    kind=kind,
                    title=title,
                    last_seq=0,
                    last_activity_at=utcnow(),
                    created_at=utcnow(),  # in this order: the first keeps its name
                )
            )
    await migrate(db, "upgrade", "head")
    async with db.read() as conn:
        rows = {
            row.id: (row.title, row.channel_key)
            for row in await conn.execute(
                select(conversations.c.id, conversations.c.title, conversations.c.channel_key)
            )
        }
    assert [rows[i] for i in ids] == [
        ("General", "general"),
        ("general (2)", "general (2)"),
        ("GENERAL (3)", "general (3)"),
        ("Random", "random"),
        ("General", None),
        ("general", "general"),
    ]
    await migrate(db, "downgrade", "0003")
    await migrate(db, "upgrade", "head")


async def test_going_back_before_batches_indexes_what_waited(db: Database) -> None:
    """Down from 0005, SQLite's index holds every message and indexes new ones at once."""
    await upgrade_to_head(db)
    conversation_id = await insert_channel(db, utcnow())
    await insert_message(db, conversation_id, 1, "needle waiting")
    await migrate(db, "downgrade", "0004")
    await insert_message(db, conversation_id, 2, "needle at once")
    assert sorted(await found(db, "needle")) == ["needle at once", "needle waiting"]
    await migrate(db, "upgrade", "head")
    await insert_message(db, conversation_id, 3, "needle batched")
    assert len(await found(db, "needle")) == 3
