"""PostgreSQL's row-level security, the second wall behind hallway/domain/access.py
(migration 0010): as the app role, a person's transaction sees and writes only the rows of
their own conversations, whatever the query asks for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select, text, update

from hallway.config import Settings
from hallway.store.acting import NOBODY, SYSTEM, Acting, acting
from hallway.store.database import Database
from hallway.store.driver_sql import driver_statement
from hallway.store.message_log import Member, MessageLog, next_seq, read_events_after
from hallway.store.tables import events, messages
from hallway.store.types import utcnow
from tests.files_support import send_files, uploaded
from tests.support import Directory, Person, on_postgresql, send

pytestmark = pytest.mark.anyio

PROTECTED = (
    "conversations",
    "participants",
    "messages",
    "events",
    "reactions",
    "message_edits",
    "attachments",
)


@dataclass
class World:
    alice: Person
    """Takes part in `direct` (with Bob) and `channel`; not in `private`."""
    direct: str
    private: str
    """A group of Bob's and Carol's, in Alice's company."""
    channel: str
    """An open channel of Bob's that Alice has not joined."""
    other: str
    """A conversation of another company's, with a message, a reaction, an edit and a file."""


async def _everything_in(person: Person, other: Person, conversation_id: str) -> None:
    """A message with a file, a reaction and an edit in the conversation."""
    file = await uploaded(person, conversation_id, b"contents")
    r = await send_files(person, conversation_id, [file["id"]], body="with a file")
    assert r.status_code == 201, r.text
    message = r.json()
    r = await person.put(f"/api/v1/messages/{message['id']}/reactions/%F0%9F%91%8D")
    assert r.status_code in (200, 201, 204), r.text
    r = await person.patch(f"/api/v1/messages/{message['id']}", json={"body": "edited"})
    assert r.status_code == 200, r.text
    await send(other, conversation_id, "answer")


@pytest.fixture
async def world(directory: Directory) -> World:
    alice = await directory.company("Alice's")
    bob = await directory.colleague(alice, "Bob")
    carol = await directory.colleague(alice, "Carol")
    direct = (await directory.conversation(alice, "direct", [bob]))["id"]
    await _everything_in(alice, bob, direct)
    private = (await directory.conversation(bob, "group", [carol], title="private"))["id"]
    await _everything_in(bob, carol, private)
    channel = (await directory.conversation(bob, "channel", [], title="open"))["id"]
    await send(bob, channel, "in the channel")
    dave = await directory.company("Other")
    erin = await directory.colleague(dave, "Erin")
    other = (await directory.conversation(dave, "group", [erin], title="theirs"))["id"]
    await _everything_in(dave, erin, other)
    return World(alice, direct, private, channel, other)


async def _app_database(settings: Settings, **options: Any) -> Database:
    assert settings.migration_database_url, "the test stack connects as an app role"
    db = Database(settings.effective_database_url, **options)
    assert await db.detect_row_security()
    return db


def _conversation_of(table: str, row: Any, message_conversations: dict[str, str]) -> str:
    if table == "conversations":
        return str(row.id)
    if table in ("reactions", "message_edits"):
        return message_conversations[row.message_id]
    return str(row.conversation_id)


async def _message_conversations(settings: Settings) -> dict[str, str]:
    owner = Database(settings.effective_migration_database_url)
    try:
        async with owner.read() as conn:
            rows = await conn.execute(select(messages.c.id, messages.c.conversation_id))
            return {row.id: row.conversation_id for row in rows}
    finally:
        await owner.dispose()


@on_postgresql
async def test_the_app_role_is_held_and_the_owner_is_not(app: FastAPI, settings: Settings) -> None:
    assert app.state.ctx.db.row_security
    owner = Database(settings.effective_migration_database_url)
    try:
        assert not await owner.detect_row_security()
    finally:
        await owner.dispose()


@on_postgresql
async def test_a_raw_select_of_each_table_returns_only_the_persons_rows(
    world: World, settings: Settings
) -> None:
    alice = Acting(world.alice.id, world.alice.company_id)
    # What Alice may see: her conversations; of the channel she has not joined, its row and
    # its members only.
    theirs = {world.direct}
    rows_of_the_company = {"conversations", "participants"}
    db = await _app_database(settings)
    try:
        with acting(alice):
            async with db.read() as conn:
                seen = {t: list(await conn.execute(text(f"SELECT * FROM {t}"))) for t in PROTECTED}
    finally:
        await db.dispose()
    owners = await _message_conversations(settings)
    for table in PROTECTED:
        allowed = theirs | ({world.channel} if table in rows_of_the_company else set())
        found = {_conversation_of(table, row, owners) for row in seen[table]}
        assert found == allowed, table


@on_postgresql
async def test_nobody_and_another_company_see_nothing(world: World, settings: Settings) -> None:
    outsider = Acting(world.alice.id, "a company of no one's")
    db = await _app_database(settings)
    try:
        for who in (NOBODY, outsider):
            with acting(who):
                async with db.read() as conn:
                    for table in PROTECTED:
                        rows = list(await conn.execute(text(f"SELECT * FROM {table}")))
                        assert rows == [], (who, table)
        # hallway.system is for members of hallway_system only: the app role of the suite
        # is one, so it sees everything, the other company's rows too.
        with acting(SYSTEM):
            async with db.read() as conn:
                ids = set((await conn.execute(text("SELECT id FROM conversations"))).scalars())
        assert {world.direct, world.private, world.channel, world.other} <= ids
    finally:
        await db.dispose()


@on_postgresql
async def test_the_store_without_domain_checks_still_gets_nothing_of_another_company(
    world: World, settings: Settings
) -> None:
    """The store's functions that trust the domain to have checked membership, called
    straight for another company's conversation, as Alice."""
    alice = Acting(world.alice.id, world.alice.company_id)
    db = await _app_database(settings)
    try:
        with acting(alice):
            async with db.read() as conn:
                assert await read_events_after(conn, world.other, 0, 100) == []
                assert await read_events_after(conn, world.private, 0, 100) == []
                assert len(await read_events_after(conn, world.direct, 0, 100)) > 0
            with pytest.raises(LookupError):
                async with db.write() as conn:
                    await next_seq(conn, world.other, activity_at=None)
            async with db.write() as conn:
                changed = await conn.execute(
                    update(messages)
                    .where(messages.c.conversation_id == world.other)
                    .values(body="overwritten")
                )
                assert changed.rowcount == 0
                with pytest.raises(Exception, match="row-level security"):
                    async with conn.begin_nested():
                        await conn.execute(
                            events.insert().values(
                                conversation_id=world.other,
                                seq=10_000,
                                kind="message.created",
                                payload={},
                                created_at=utcnow(),
                            )
                        )
        # The hot statements that run alone take the member they act for: claiming to be
        # Alice in the other company's conversation, or to be one of its people from
        # Alice's company, reads and writes nothing.
        log = MessageLog(db)
        for member in (
            Member(world.other, world.alice.id, world.alice.company_id),
            Member(world.private, world.alice.id, world.alice.company_id),
        ):
            assert await log.read_window(member, limit=50, before=None) is None
    finally:
        await db.dispose()


@on_postgresql
async def test_a_statement_alone_never_acts_for_the_last_person(
    world: World, settings: Settings
) -> None:
    """The connections kept for statements run alone carry whom they act for from one
    statement to the next: each statement acts for its own person, or for nobody."""
    db = await _app_database(settings, pool_size=1)
    try:
        log = MessageLog(db)
        alice = Member(world.direct, world.alice.id, world.alice.company_id)
        window = await log.read_window(alice, limit=50, before=None)
        assert window is not None and window.messages
        # The same connection, now for nobody: Alice's setting is gone.
        conversations = driver_statement("SELECT id FROM conversations")
        with acting(NOBODY):
            assert await db.read_statement(conversations, {}) == []
        with acting(Acting(world.alice.id, world.alice.company_id)):
            assert {row["id"] for row in await db.read_statement(conversations, {})} == {
                world.direct,
                world.channel,
            }
        with acting(NOBODY):
            assert await db.read_statement(conversations, {}) == []
    finally:
        await db.dispose()
