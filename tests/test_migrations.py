"""Migrations go down and up again: the search index (0003) leaves nothing behind when
removed, and indexes the messages that exist when it is added; 0007 names each event's
message and erases what messages deleted before it left in the event log."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection

from hallway.store import search, search_index
from hallway.store.database import Database
from hallway.store.migrate import alembic_config, upgrade_to_head
from hallway.store.tables import companies, conversations, events, messages
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
        query = search.sqlite_matches(query, [word], [], prefix_last=False)
    else:
        query = search.postgresql_matches(query, [word], [], prefix_last=False)
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


GONE_AT = datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=UTC)
GONE_AT_TEXT = "2026-12-01T10:00:00.123456Z"


async def log(
    db: Database, conversation_id: str, kinds_and_payloads: list[tuple[str, Any]]
) -> None:
    async with db.write() as conn:
        for seq, (kind, payload) in enumerate(kinds_and_payloads, start=1):
            await conn.execute(
                events.insert().values(
                    conversation_id=conversation_id,
                    seq=seq,
                    kind=kind,
                    payload=payload,
                    created_at=utcnow(),
                )
            )


async def test_events_name_their_message_and_messages_deleted_before_are_erased(
    db: Database,
) -> None:
    """0007 fills events.message_id from the payloads, and erases what a message deleted
    before it left in the log (a delete did not touch its events then)."""
    await migrate(db, "upgrade", "0006")
    conversation_id = await insert_channel(db, utcnow())
    kept, gone = str(uuid.uuid4()), str(uuid.uuid4())
    created_at = "2026-12-01T09:00:00.5Z"
    created: dict[str, Any] = {
        "conversation_id": conversation_id,
        "sender_id": "the-sender",
        "client_msg_id": "tab:1",
        "thread_root_id": None,
        "created_at": created_at,
        "edited_at": None,
        "deleted_at": None,
        "attachments": [],
        "reactions": [],
    }
    file = {"id": "f", "filename": "secret.png", "content_type": "image/png", "size": 1}
    deletion = {"deleted_at": GONE_AT_TEXT, "deleted_by": "the-deleter"}
    await log(
        db,
        conversation_id,
        [
            ("member.added", {"user_ids": ["the-sender"], "added_by": "the-sender"}),
            ("message.created", {**created, "id": kept, "seq": 2, "body": "kept words"}),
            (
                "message.created",
                {**created, "id": gone, "seq": 3, "body": "secret", "attachments": [file]},
            ),
            ("message.edited", {"id": gone, "body": "secret edit", "edited_by": "the-sender"}),
            ("reaction.added", {"message_id": gone, "emoji": "🦓", "user_id": "the-sender"}),
            ("reaction.added", {"message_id": kept, "emoji": "🎉", "user_id": "the-sender"}),
            ("message.deleted", {"id": gone, **deletion}),
        ],
    )
    async with db.read() as conn:
        before = [
            tuple(r)
            for r in await conn.execute(
                select(events.c.kind, events.c.payload).order_by(events.c.seq)
            )
        ]
    async with db.write() as conn:
        for message_id, seq, body, deleted_at in (
            (kept, 2, "kept words", None),
            (gone, 3, "", GONE_AT),
        ):
            await conn.execute(
                messages.insert().values(
                    id=message_id,
                    conversation_id=conversation_id,
                    seq=seq,
                    body=body,
                    created_at=utcnow(),
                    edited_at=utcnow(),
                    deleted_at=deleted_at,
                )
            )

    await migrate(db, "upgrade", "head")
    async with db.read() as conn:
        logged = list(
            await conn.execute(
                select(events.c.kind, events.c.payload, events.c.message_id).order_by(events.c.seq)
            )
        )
        stored = {
            r.id: (r.edited_at is None, r.deleted_by) for r in await conn.execute(select(messages))
        }
    assert [r.message_id for r in logged] == [None, kept, gone, gone, gone, kept, gone]
    # What a message not deleted logged stays as it was; so do member.added and the delete.
    for at in (0, 1, 5, 6):
        assert (logged[at].kind, logged[at].payload) == before[at]
    assert logged[2].payload == {
        "id": gone,
        "conversation_id": conversation_id,
        "seq": 3,
        "sender_id": "the-sender",
        "body": "",
        "client_msg_id": "tab:1",
        "thread_root_id": None,
        "created_at": created_at,
        "edited_at": None,
        **deletion,
        "attachments": [],
        "reactions": [],
    }
    assert logged[3].payload == {"id": gone, **deletion}
    assert logged[4].payload == {"message_id": gone, **deletion}
    assert stored == {kept: (False, None), gone: (True, "the-deleter")}

    await migrate(db, "downgrade", "0006")
    columns = await db.run_sync(
        lambda c: {
            table: {col["name"] for col in inspect(c).get_columns(table)}
            for table in ("events", "messages")
        }
    )
    assert "message_id" not in columns["events"] and "deleted_by" not in columns["messages"]
    await migrate(db, "upgrade", "head")
    async with db.read() as conn:
        again = [
            r.message_id
            for r in await conn.execute(select(events.c.message_id).order_by(events.c.seq))
        ]
    assert again == [None, kept, gone, gone, gone, kept, gone]
