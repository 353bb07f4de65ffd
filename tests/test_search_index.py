"""SQLite's search index in batches (hallway/store/search_index.py, migration 0005): a
message is indexed by the next batch, edits and deletes before or after it keep the index
exact, and the app's indexer runs without anyone searching."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from hallway.store import search_index
from hallway.store.database import Database
from hallway.store.types import utcnow
from tests.fuzz_support import FUZZ
from tests.support import Directory, eventually, insert_channel, insert_message, send

pytestmark = pytest.mark.anyio


@pytest.fixture
async def db(migrated: dict[str, Path], tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated SQLite database of this test's own (the index exists on SQLite only)."""
    template = migrated["sqlite"]
    shutil.copy(template, tmp_path / "index.db")
    database = Database(f"sqlite:///{tmp_path / 'index.db'}")
    yield database
    await database.dispose()


async def matching(db: Database, word: str) -> list[str]:
    """Bodies the index holds for `word`, without catching up first."""
    async with db.read() as conn:
        rows = await conn.execute(
            text(
                "SELECT messages.body FROM message_search JOIN messages "
                "ON messages.rowid = message_search.rowid "
                "WHERE message_search MATCH :word ORDER BY messages.rowid"
            ),
            {"word": f'"{word}"'},
        )
        return [row.body for row in rows]


async def check_index(db: Database) -> None:
    """FTS5's own check that an external-content index matches its table exactly."""
    async with db.write() as conn:
        await conn.execute(
            text("INSERT INTO message_search(message_search, rank) VALUES ('integrity-check', 1)")
        )


async def execute(db: Database, sql: str, **params: Any) -> None:
    async with db.write() as conn:
        await conn.execute(text(sql), params)


async def test_messages_wait_for_the_next_batch(db: Database) -> None:
    conversation_id = await insert_channel(db, utcnow())
    for seq in (1, 2, 3):
        await insert_message(db, conversation_id, seq, f"needle number{seq}")
    assert await matching(db, "needle") == []
    assert await search_index.index_pending(db, batch=2) == 3
    assert await matching(db, "needle") == ["needle number1", "needle number2", "needle number3"]
    assert await search_index.index_pending(db) == 0
    await check_index(db)


async def test_edits_and_deletes_before_the_batch_leave_the_index_exact(db: Database) -> None:
    conversation_id = await insert_channel(db, utcnow())
    for seq, body in enumerate(["first draft", "doomed words", "kept words"], start=1):
        await insert_message(db, conversation_id, seq, body)
    await execute(db, "UPDATE messages SET body = 'second draft' WHERE body = 'first draft'")
    await execute(db, "DELETE FROM messages WHERE body = 'doomed words'")
    assert await search_index.index_pending(db) == 2
    assert await matching(db, "draft") == ["second draft"]
    assert await matching(db, "first") == []
    assert await matching(db, "words") == ["kept words"]
    await check_index(db)


async def test_edits_and_deletes_after_the_batch_leave_the_index_exact(db: Database) -> None:
    conversation_id = await insert_channel(db, utcnow())
    for seq, body in enumerate(["first draft", "doomed words", "kept words"], start=1):
        await insert_message(db, conversation_id, seq, body)
    await search_index.index_pending(db)
    await execute(db, "UPDATE messages SET body = 'second draft' WHERE body = 'first draft'")
    await execute(db, "DELETE FROM messages WHERE body = 'doomed words'")
    assert await matching(db, "draft") == ["second draft"]
    assert await matching(db, "words") == ["kept words"]
    assert await search_index.index_pending(db) == 0
    await check_index(db)


async def test_a_rowid_handed_out_again_is_indexed_at_once(db: Database) -> None:
    """SQLite gives the highest rowid again once its row is deleted: that message is behind
    the index's progress already, so the insert trigger indexes it."""
    conversation_id = await insert_channel(db, utcnow())
    await insert_message(db, conversation_id, 1, "low")
    await insert_message(db, conversation_id, 2, "top")
    await search_index.index_pending(db)
    await execute(db, "DELETE FROM messages WHERE body = 'top'")
    await insert_message(db, conversation_id, 3, "reborn")
    assert await matching(db, "reborn") == ["reborn"]
    await check_index(db)


async def test_a_deleted_conversation_takes_its_messages_out_of_the_index(db: Database) -> None:
    conversation_id = await insert_channel(db, utcnow())
    await insert_message(db, conversation_id, 1, "indexed gone")
    await search_index.index_pending(db)
    await insert_message(db, conversation_id, 2, "pending gone")
    await execute(db, "DELETE FROM conversations WHERE id = :id", id=conversation_id)
    assert await search_index.index_pending(db) == 0
    assert await matching(db, "gone") == []
    await check_index(db)


WORDS = ["alpha", "beta", "gamma"]
operations = st.lists(
    st.tuples(
        st.sampled_from(["add", "edit", "delete", "delete-top", "index"]),
        st.integers(0, 20),
        st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join),
    ),
    max_size=25,
)


def test_any_mix_of_writes_and_batches_ends_in_an_exact_index(
    migrated: dict[str, Path], tmp_path: Path
) -> None:
    template = migrated["sqlite"]

    @FUZZ
    @given(steps=operations)
    def check(steps: list[tuple[str, int, str]]) -> None:
        path = tmp_path / "mix.db"
        shutil.copy(template, path)
        asyncio.run(replay(Database(f"sqlite:///{path}"), steps))

    check()


async def replay(db: Database, steps: list[tuple[str, int, str]]) -> None:
    try:
        conversation_id = await insert_channel(db, utcnow())
        for seq, (kind, pick, body) in enumerate(steps, start=1):
            chosen = "(SELECT rowid FROM messages ORDER BY rowid LIMIT 1 OFFSET :pick)"
            if kind == "add":
                await insert_message(db, conversation_id, seq, body)
            elif kind == "edit":
                sql = f"UPDATE messages SET body = :body WHERE rowid = {chosen}"
                await execute(db, sql, body=body, pick=pick)
            elif kind == "delete":
                await execute(db, f"DELETE FROM messages WHERE rowid = {chosen}", pick=pick)
            elif kind == "delete-top":
                top = "(SELECT max(rowid) FROM messages)"
                await execute(db, f"DELETE FROM messages WHERE rowid = {top}")
            else:
                await search_index.index_pending(db, batch=3)
        await search_index.index_pending(db, batch=3)
        await check_index(db)
        async with db.read() as conn:
            rows = await conn.execute(text("SELECT body FROM messages ORDER BY rowid"))
            bodies = [row.body for row in rows]
        for word in WORDS:
            assert await matching(db, word) == [b for b in bodies if word in b.split()]
    finally:
        await db.dispose()


async def test_the_app_indexes_without_anyone_searching(
    directory: Directory, app: Any, stack: str
) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    conversation = await directory.conversation(admin, "group", [bob], "Plans")
    await send(admin, conversation["id"], "indexed by the app")
    db = app.state.ctx.db
    if stack != "sqlite":
        assert await search_index.index_pending(db) == 0  # PostgreSQL indexes as it writes
        return

    async def caught_up() -> bool:
        return await matching(db, "indexed") == ["indexed by the app"]

    assert await eventually(caught_up)
