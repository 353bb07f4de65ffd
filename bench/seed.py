"""Mass setup straight into the database, before the server starts.

Creating people through the API spends an argon2 hash each (slow by design), so the suite
inserts companies, people, their sessions and conversations with SQLAlchemy Core and signs
their access tokens with the servers' secret, exactly as a login would.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text, update

from bench.server import SECRET
from hallway.config import Settings
from hallway.domain.actor import Actor, Role
from hallway.domain.message_format import render_body
from hallway.domain.tokens import issue_access_token
from hallway.store import search_index
from hallway.store.bulk import insert_rows
from hallway.store.database import Database
from hallway.store.tables import (
    companies,
    conversations,
    events,
    messages,
    participants,
    sessions,
    users,
)
from hallway.store.types import utcnow

BATCH = 5_000


@dataclass(frozen=True)
class Person:
    id: str
    token: str


@dataclass(frozen=True)
class Room:
    """One channel and the people in it (the first is its owner and the sender)."""

    conversation_id: str
    people: list[Person]


def _batches(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), BATCH):
        yield rows[start : start + BATCH]


# Tokens that outlast any run of the suite (a login's expire within the hour).
SETTINGS = Settings(secret_key=SECRET, access_token_ttl_seconds=12 * 3600)


def _token(actor: Actor) -> str:
    token, _ = issue_access_token(SETTINGS, actor)
    return token


def _session_row(user_id: str, now: datetime) -> dict[str, Any]:
    """A session that lasts the whole run (its refresh token is never used)."""
    return {
        "id": str(uuid.uuid4()),
        "user_id": user_id,
        "device": "bench",
        "address": "127.0.0.1",
        "created_at": now,
        "last_seen_at": now,
        "expires_at": now + timedelta(days=1),
        "refresh_generation": 1,
        "refresh_hash": "0" * 64,
    }


async def companies_with_people(
    db: Database, count: int, per_company: int
) -> list[tuple[str, list[Person]]]:
    """`count` people (no passwords: they hold tokens) in companies of `per_company`; the
    first of each company is its admin."""
    now = utcnow()
    company_ids = [str(uuid.uuid4()) for _ in range(-(-count // per_company))]
    rows = [
        {
            "id": str(uuid.uuid4()),
            "company_id": company_ids[i // per_company],
            "email": f"p{i}-{uuid.uuid4().hex[:12]}@bench.test",
            "display_name": f"Person {i}",
            "password_hash": None,
            "role": "admin" if i % per_company == 0 else "member",
            "external_id": None,
            "created_at": now,
        }
        for i in range(count)
    ]
    company_rows = [{"id": c, "name": "Bench", "created_at": now} for c in company_ids]
    session_rows = [_session_row(str(r["id"]), now) for r in rows]
    async with db.write() as conn:
        for batch in _batches(company_rows):
            await conn.execute(companies.insert(), batch)
        for batch in _batches(rows):
            await conn.execute(users.insert(), batch)
        for batch in _batches(session_rows):
            await conn.execute(sessions.insert(), batch)
    found: dict[str, list[Person]] = {c: [] for c in company_ids}
    for i, (r, session) in enumerate(zip(rows, session_rows, strict=True)):
        user_id, company_id = str(r["id"]), company_ids[i // per_company]
        role: Role = "admin" if i % per_company == 0 else "member"
        actor = Actor(user_id, company_id, role, str(session["id"]))
        found[company_id].append(Person(user_id, _token(actor)))
    return list(found.items())


async def room(db: Database, people_count: int) -> Room:
    """A channel whose members are a new company's `people_count` people."""
    [(company_id, people)] = await companies_with_people(db, people_count, people_count)
    now = utcnow()
    conversation_id = str(uuid.uuid4())
    async with db.write() as conn:
        await conn.execute(
            conversations.insert().values(
                id=conversation_id,
                company_id=company_id,
                kind="channel",
                title="bench",
                created_by=people[0].id,
                last_seq=0,
                last_activity_at=now,
                created_at=now,
            )
        )
        rows = [
            {
                "conversation_id": conversation_id,
                "user_id": p.id,
                "role": "owner" if i == 0 else "member",
                "joined_at": now,
                "last_read_seq": 0,
            }
            for i, p in enumerate(people)
        ]
        for batch in _batches(rows):
            await conn.execute(participants.insert(), batch)
    return Room(conversation_id, people)


def numbered_body(seq: int) -> str:
    return f"history message number {seq}"


def _history_rows(
    room: Room, count: int, body: Callable[[int], str], age: timedelta
) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Batches of (message rows, event rows) for seq 1..count, as send_message writes them:
    a second apart, the last `age` ago."""
    sender = room.people[0].id
    start = utcnow() - age - timedelta(seconds=count)
    for first in range(1, count + 1, BATCH):
        message_rows, event_rows = [], []
        for seq in range(first, min(first + BATCH, count + 1)):
            at = start + timedelta(seconds=seq)
            written = body(seq)
            message = {
                "id": str(uuid.uuid4()),
                "conversation_id": room.conversation_id,
                "seq": seq,
                "sender_id": sender,
                "client_msg_id": None,
                "body": written,
                "thread_root_id": None,
                "created_at": at,
                "edited_at": None,
                "deleted_at": None,
                "deleted_by": None,
                # Rendered as a send stores it: readers would otherwise render every row.
                "body_html": render_body(written),
            }
            message_rows.append(message)
            payload = {**message, "attachments": [], "reactions": []}
            event_rows.append(
                {
                    "conversation_id": room.conversation_id,
                    "seq": seq,
                    "kind": "message.created",
                    "payload": payload,
                    "created_at": at,
                    "message_id": message["id"],
                }
            )
        yield message_rows, event_rows


async def history(
    db: Database,
    room: Room,
    count: int,
    body: Callable[[int], str] = numbered_body,
    age: timedelta = timedelta(0),
) -> None:
    """`count` messages (and their events) in the room, fast: COPY on PostgreSQL,
    executemany on SQLite (hallway.store.bulk); the conversation's last_seq, and on SQLite
    the search index. `body` makes message seq's text; the newest was sent `age` ago."""
    async with db.write() as conn:
        # First, so that the COPYs run inside this transaction.
        await conn.execute(
            update(conversations)
            .where(conversations.c.id == room.conversation_id)
            .values(last_seq=count)
        )
        for message_rows, event_rows in _history_rows(room, count, body, age):
            await insert_rows(conn, messages, message_rows)
            await insert_rows(conn, events, event_rows)
    # SQLite's search index, as the server's indexer would bring it up to date.
    await search_index.index_pending(db, batch=50_000)
    if db.dialect == "postgresql":
        # Fresh statistics, as autovacuum would gather them in a while (committed: in a
        # rolled-back transaction ANALYZE leaves nothing behind).
        async with db.write() as conn:
            await conn.execute(text("ANALYZE messages, events"))
