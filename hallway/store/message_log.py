"""The conversation log: every statement that appends to it or reads it in order.

A conversation's changes are numbered by `conversations.last_seq`: each takes the next seq
(an UPDATE ... RETURNING, which on PostgreSQL also row-locks the conversation until commit,
so concurrent writers get consecutive seqs and no gaps) and is logged in `events` under it.
A message takes the seq of its own `message.created` event.

The statements every send and every history window runs are written out here as literal
SQL, once for both dialects or once for each, and run on the driver beneath SQLAlchemy
(hallway.store.driver_sql); the log's other reads are SQLAlchemy Core. Rows are read by
column name.

Appending a message without files or thread (`MessageLog.append`): on PostgreSQL one
statement allocates the seq (checking membership on the way), stores the message and logs
its event, and commits by itself; sends that queue behind each other in one conversation
are stored together by one such statement (hallway.store.batching). On SQLite, where a
send runs from its BEGIN to its COMMIT without giving the event loop up, so that nothing
can queue behind it, it is one short transaction of three statements.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import Select, exists, select

from hallway.store.acting import Acting
from hallway.store.batching import NaturalBatcher
from hallway.store.database import Connection, Database, dumps_json
from hallway.store.driver_sql import DriverStatement, Row, driver_statement
from hallway.store.tables import (
    attachments,
    conversations,
    events,
    messages,
    participants,
    reactions,
)
from hallway.store.types import UTCDateTime

MESSAGE_CREATED = "message.created"
IDEMPOTENCY_CONSTRAINT = "uq_messages_client_msg_id"
"""UNIQUE (conversation_id, sender_id, client_msg_id): a client_msg_id used before."""

MESSAGE_COLUMNS = (
    *messages.c,
    # Index probes that let a reader skip its follow-up queries for the (usual) message
    # without files or reactions.
    exists()
    .where(attachments.c.message_id == messages.c.id, attachments.c.deleted_at.is_(None))
    .label("has_files"),
    exists().where(reactions.c.message_id == messages.c.id).label("has_reactions"),
)
"""A message row as readers take it (hallway.domain.message_views): every column of
messages, and whether it has files and reactions. _MESSAGE_ROW is the same in SQL."""

_MESSAGE_ROW = ", ".join(
    [
        *(f"m.{c.name}" for c in messages.c),
        "EXISTS (SELECT 1 FROM attachments AS a"
        " WHERE a.message_id = m.id AND a.deleted_at IS NULL) AS has_files",
        "EXISTS (SELECT 1 FROM reactions AS r WHERE r.message_id = m.id) AS has_reactions",
    ]
)
_MESSAGE_TIMESTAMPS = tuple(c.name for c in messages.c if isinstance(c.type, UTCDateTime))
THREAD_COLUMNS = ("reply_count", "last_reply_at", "reply_user_ids")
"""A thread root's summary (hallway/domain/threads.py): a new message starts with the
columns' defaults, so a send does not write them."""
_MESSAGE_NAMES = [c.name for c in messages.c if c.name not in THREAD_COLUMNS]

# The conversation is :cid, of :company, and :uid takes part in it.
_AS_MEMBER = (
    "conversations.id = :cid AND conversations.company_id = :company"
    " AND EXISTS (SELECT 1 FROM participants"
    " WHERE participants.conversation_id = :cid AND participants.user_id = :uid)"
)
# Where a seq is taken for a message: an archived conversation takes none, so a send to it
# writes nothing and is refused like one by a non-member; the domain then tells the two
# apart (hallway/domain/channel_settings.py), on that path only.
_AS_SENDING_MEMBER = f"{_AS_MEMBER} AND conversations.archived_at IS NULL"


@dataclass(frozen=True, slots=True)
class Member:
    """Someone acting in a conversation. A statement that takes one does nothing unless
    they take part in it and it is their company's."""

    conversation_id: str
    user_id: str
    company_id: str

    def params(self) -> dict[str, str]:
        return {"cid": self.conversation_id, "uid": self.user_id, "company": self.company_id}

    def acting(self) -> Acting:
        """The member as whom row-level security sees the statement (hallway.store.acting)."""
        return Acting(self.user_id, self.company_id)


class Refused(enum.Enum):
    """Why an append wrote nothing."""

    NOT_A_MEMBER = "not_a_member"
    """The conversation is not the sender's (or not of their company)."""
    REPEAT = "repeat"
    """The sender used this client_msg_id in the conversation before."""


# --- seqs and events, in the caller's transaction ------------------------------------------

_NEXT_SEQS = driver_statement(
    "UPDATE conversations SET last_seq = last_seq + :count WHERE id = :cid RETURNING last_seq"
)
_NEXT_SEQ_WITH_ACTIVITY = driver_statement(
    "UPDATE conversations SET last_seq = last_seq + 1, last_activity_at = :now"
    " WHERE id = :cid RETURNING last_seq"
)
_NEXT_SEQ_AS_MEMBER = driver_statement(
    "UPDATE conversations SET last_seq = last_seq + 1, last_activity_at = :now"
    f" WHERE {_AS_SENDING_MEMBER} RETURNING last_seq"
)
_INSERT_EVENT = driver_statement(
    "INSERT INTO events (conversation_id, seq, kind, payload, created_at, message_id)"
    " VALUES (:cid, :seq, :kind, :payload, :created_at, :message_id)"
)
_INSERT_MESSAGE = driver_statement(
    f"INSERT INTO messages ({', '.join(_MESSAGE_NAMES)})"
    f" VALUES ({', '.join(f':{name}' for name in _MESSAGE_NAMES)})"
    " ON CONFLICT (conversation_id, sender_id, client_msg_id) DO NOTHING RETURNING seq"
)
_BY_CLIENT_MSG_ID = driver_statement(
    f"SELECT {_MESSAGE_ROW} FROM messages AS m WHERE m.conversation_id = :cid"
    " AND m.sender_id = :uid AND m.client_msg_id = :client_msg_id",
    timestamps=_MESSAGE_TIMESTAMPS,
)


async def next_seq(conn: Connection, conversation_id: str, *, activity_at: datetime | None) -> int:
    """The conversation's next seq, in the caller's transaction; with `activity_at`, also
    its last activity. Raises LookupError for no such conversation."""
    if activity_at is None:
        return (await next_seqs(conn, conversation_id, 1))[0]
    else:
        rows = await conn.fetch(
            _NEXT_SEQ_WITH_ACTIVITY, {"cid": conversation_id, "now": activity_at}
        )
    if not rows:
        raise LookupError(conversation_id)
    return int(rows[0]["last_seq"])


async def next_seqs(conn: Connection, conversation_id: str, count: int) -> range:
    """The conversation's next `count` seqs at once, in the caller's transaction. Raises
    LookupError for no such conversation."""
    rows = await conn.fetch(_NEXT_SEQS, {"cid": conversation_id, "count": count})
    if not rows:
        raise LookupError(conversation_id)
    last = int(rows[0]["last_seq"])
    return range(last - count + 1, last + 1)


async def next_member_seq(conn: Connection, member: Member, activity_at: datetime) -> int | None:
    """next_seq with activity in a conversation of the member's; None when it is not, or
    when it is archived."""
    rows = await conn.fetch(_NEXT_SEQ_AS_MEMBER, {**member.params(), "now": activity_at})
    return int(rows[0]["last_seq"]) if rows else None


async def insert_event(
    conn: Connection,
    conversation_id: str,
    seq: int,
    kind: str,
    data: Mapping[str, Any],
    created_at: datetime,
    message_id: str | None,
) -> None:
    """Log an event under a seq from next_seq, in the caller's transaction."""
    await conn.fetch(
        _INSERT_EVENT,
        {
            "cid": conversation_id,
            "seq": seq,
            "kind": kind,
            "payload": dumps_json(data),
            "created_at": created_at,
            "message_id": message_id,
        },
    )


async def insert_events(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Log many events at once (each a row of events by column name, under seqs from
    next_seqs), in the caller's transaction."""
    if rows:
        await conn.execute(events.insert(), list(rows))


async def insert_message(conn: Connection, message: Mapping[str, Any]) -> bool:
    """Store a message (every column of messages, by name) under its seq, in the caller's
    transaction; False, writing nothing, when its client_msg_id was used before."""
    return bool(await conn.fetch(_INSERT_MESSAGE, message))


async def message_by_client_msg_id(
    conn: Connection, member: Member, client_msg_id: str
) -> Row | None:
    """The message the member sent in the conversation under this client_msg_id, as
    MESSAGE_COLUMNS."""
    params = {**member.params(), "client_msg_id": client_msg_id}
    rows = await conn.fetch(_BY_CLIENT_MSG_ID, params)
    return rows[0] if rows else None


# --- appending a message without files or thread ------------------------------------------

# PostgreSQL: the seq allocation (which checks membership), the message and its event in one
# statement. No row when the sender takes no part; a repeated client_msg_id violates its
# unique constraint and so undoes the whole statement, seq included (ON CONFLICT DO NOTHING
# would leave the seq taken with nothing under it). The seq is known only inside the
# statement, so the event's data gets it there.
_APPEND_ALONE = driver_statement(
    postgresql=f"""
    WITH seq AS (
        UPDATE conversations SET last_seq = last_seq + 1, last_activity_at = :created_at
        WHERE {_AS_SENDING_MEMBER}
        RETURNING conversations.id, conversations.last_seq
    ), message AS (
        INSERT INTO messages (id, conversation_id, seq, sender_id, client_msg_id, body,
                              body_html, created_at)
        SELECT CAST(:id AS varchar), seq.id, seq.last_seq, CAST(:uid AS varchar),
               CAST(:client_msg_id AS varchar), CAST(:body AS text),
               CAST(:body_html AS text), CAST(:created_at AS timestamptz)
        FROM seq
        RETURNING messages.id, messages.conversation_id, messages.seq
    )
    INSERT INTO events (conversation_id, seq, kind, payload, created_at, message_id)
    SELECT message.conversation_id, message.seq, '{MESSAGE_CREATED}',
           CAST(CAST(CAST(:data AS text) AS jsonb) || jsonb_build_object('seq', message.seq)
                AS json),
           :created_at, message.id
    FROM message
    RETURNING events.seq
    """
)

# PostgreSQL: what _APPEND_ALONE does for one, for several messages of one conversation
# (and company), in the order given, with consecutive seqs, for each sender who takes
# part. The values come as one array per column; the rows are (id, seq) of the messages
# stored. A repeated client_msg_id undoes them all.
_APPEND_TOGETHER = driver_statement(
    postgresql=f"""
    WITH batch AS (
        SELECT * FROM unnest(
            CAST(:ids AS text[]), CAST(:sender_ids AS text[]),
            CAST(:client_msg_ids AS text[]), CAST(:bodies AS text[]),
            CAST(:bodies_html AS text[]), CAST(:created_ats AS timestamptz[]),
            CAST(:data AS text[])
        ) WITH ORDINALITY
          AS batch(id, sender_id, client_msg_id, body, body_html, created_at, data, n)
    ), allowed AS (
        SELECT batch.*, row_number() OVER (ORDER BY batch.n) AS k FROM batch
        WHERE EXISTS (SELECT 1 FROM participants
                      WHERE participants.conversation_id = :cid
                        AND participants.user_id = batch.sender_id)
    ), seq AS (
        UPDATE conversations
        SET last_seq = last_seq + (SELECT count(*) FROM allowed),
            last_activity_at = (SELECT max(allowed.created_at) FROM allowed)
        WHERE conversations.id = :cid AND conversations.company_id = :company
          AND conversations.archived_at IS NULL AND EXISTS (SELECT 1 FROM allowed)
        RETURNING conversations.id, conversations.last_seq
    ), message AS (
        INSERT INTO messages (id, conversation_id, seq, sender_id, client_msg_id, body,
                              body_html, created_at)
        SELECT allowed.id, seq.id, seq.last_seq - (SELECT count(*) FROM allowed) + allowed.k,
               allowed.sender_id, allowed.client_msg_id, allowed.body, allowed.body_html,
               allowed.created_at
        FROM allowed CROSS JOIN seq
        RETURNING messages.id, messages.conversation_id, messages.seq
    ), event AS (
        INSERT INTO events (conversation_id, seq, kind, payload, created_at, message_id)
        SELECT message.conversation_id, message.seq, '{MESSAGE_CREATED}',
               CAST(CAST(allowed.data AS jsonb) || jsonb_build_object('seq', message.seq)
                    AS json),
               allowed.created_at, message.id
        FROM message JOIN allowed ON allowed.id = message.id
    )
    SELECT message.id, message.seq FROM message
    """
)


@dataclass(frozen=True, slots=True)
class _Append:
    member: Member
    message: Mapping[str, Any]


Appended = int | Refused
"""The seq the message was stored under, or why nothing was written."""


# --- reading windows of history -------------------------------------------------------------


def _window(*, before: bool) -> DriverStatement:
    """One statement for a whole window, so it reads one snapshot without a transaction:
    the conversation's last_seq (only for a member: no row otherwise) with the `:limit`
    messages before `:before` (or the newest), oldest first (one row of NULLs when there
    are none). The page comes from the (conversation, seq) index, so its cost does not
    grow with how far back it is. Thread replies are not part of it: they show in their
    thread (hallway/domain/threads.py), their root carries their count."""
    older = " AND m.thread_root_id IS NULL" + (" AND m.seq < :before" if before else "")
    return driver_statement(
        f"SELECT w.*, conversations.last_seq AS conversation_last_seq"
        f" FROM conversations LEFT JOIN ("
        f"SELECT {_MESSAGE_ROW} FROM messages AS m WHERE m.conversation_id = :cid{older}"
        f" ORDER BY m.seq DESC LIMIT :limit"
        f") AS w ON true WHERE {_AS_MEMBER} ORDER BY w.seq",
        timestamps=_MESSAGE_TIMESTAMPS,
    )


_WINDOW = {False: _window(before=False), True: _window(before=True)}


@dataclass(frozen=True, slots=True)
class Window:
    messages: list[Row]
    """As MESSAGE_COLUMNS, oldest first: the newest `limit` before the cursor."""
    has_more: bool
    """Whether older messages than these are left."""
    last_seq: int
    """The conversation's newest seq in the same snapshot."""


def _window_of(rows: list[Row], limit: int) -> Window | None:
    if not rows:
        return None
    found = [row for row in rows if row["id"] is not None]
    return Window(
        messages=found[-limit:],
        has_more=len(found) > limit,
        last_seq=int(rows[0]["conversation_last_seq"]),
    )


async def read_window_in(
    conn: Connection, member: Member, *, limit: int, before: int | None
) -> Window | None:
    """read_window in the caller's read transaction."""
    rows = await conn.fetch(_WINDOW[before is not None], _window_params(member, limit, before))
    return _window_of(rows, limit)


def _window_params(member: Member, limit: int, before: int | None) -> dict[str, Any]:
    params: dict[str, Any] = {**member.params(), "limit": limit + 1}
    if before is not None:
        params["before"] = before
    return params


# --- membership lists, last seqs, events in order -----------------------------------------


def member_conversation_ids(user_id: str, company_id: str) -> Select[tuple[str]]:
    """The ids of the conversations of the company that the person takes part in."""
    return (
        select(participants.c.conversation_id)
        .join(conversations, conversations.c.id == participants.c.conversation_id)
        .where(participants.c.user_id == user_id, conversations.c.company_id == company_id)
    )


async def read_member_conversation_ids(
    conn: Connection, user_id: str, company_id: str
) -> list[str]:
    rows = await conn.execute(member_conversation_ids(user_id, company_id))
    return [str(i) for i in rows.scalars()]


async def read_last_seqs(conn: Connection, conversation_ids: Sequence[str]) -> dict[str, int]:
    """The newest seq of each of these conversations (those that exist)."""
    rows = await conn.execute(
        select(conversations.c.id, conversations.c.last_seq).where(
            conversations.c.id.in_(conversation_ids)
        )
    )
    return {r.id: int(r.last_seq) for r in rows}


async def read_events_after(
    conn: Connection, conversation_id: str, after_seq: int, limit: int
) -> list[Row]:
    """Up to `limit` events of the conversation after `after_seq`, in order: seq, kind,
    payload and created_at."""
    rows = await conn.execute(
        select(events.c.seq, events.c.kind, events.c.payload, events.c.created_at)
        .where(events.c.conversation_id == conversation_id, events.c.seq > after_seq)
        .order_by(events.c.seq)
        .limit(limit)
    )
    return [dict(row) for row in rows.mappings()]


# --- the log of one database ------------------------------------------------------------------


class MessageLog:
    """The appends and reads that run without the caller's transaction, and the lanes in
    which a process's sends to one conversation queue."""

    def __init__(self, db: Database, *, max_batch: int = 100) -> None:
        self.db = db
        self._lanes: NaturalBatcher[_Append, Appended] = NaturalBatcher(max_batch)

    async def append(self, member: Member, message: Mapping[str, Any]) -> Appended:
        """Store a message without files or thread and log its `message.created` event,
        committed when this returns. `message` is the message as readers see it, with every
        column of messages and a None seq: that is the event's data, the seq put in."""
        if self.db.is_sqlite:
            return await self._append_in_transaction(_Append(member, message))
        return await self._lanes.submit(
            (member.conversation_id, member.company_id),
            _Append(member, message),
            self._append_alone,
            self._append_together,
        )

    async def read_window(self, member: Member, *, limit: int, before: int | None) -> Window | None:
        """The member's window of the conversation's history: the `limit` messages before
        seq `before` (or the newest), in one snapshot; None when it is not theirs."""
        params = _window_params(member, limit, before)
        rows = await self.db.read_statement(_WINDOW[before is not None], params, member.acting())
        return _window_of(rows, limit)

    async def _append_in_transaction(self, append: _Append) -> Appended:
        """SQLite: the seq, the message and its event in one transaction."""
        message = append.message
        try:
            async with self.db.write() as conn:
                seq = await next_member_seq(conn, append.member, message["created_at"])
                if seq is None:
                    return Refused.NOT_A_MEMBER
                if not await insert_message(conn, {**message, "seq": seq}):
                    # Only a used client_msg_id conflicts (the seq is this transaction's).
                    raise _Repeat
                await insert_event(
                    conn,
                    append.member.conversation_id,
                    seq,
                    MESSAGE_CREATED,
                    {**message, "seq": seq},
                    message["created_at"],
                    message["id"],
                )
        except _Repeat:
            return Refused.REPEAT
        return seq

    async def _append_alone(self, append: _Append) -> Appended:
        """PostgreSQL: one send, by _APPEND_ALONE."""
        message = append.message
        params = {
            **append.member.params(),
            "id": message["id"],
            "client_msg_id": message["client_msg_id"],
            "body": message["body"],
            "body_html": message["body_html"],
            "created_at": message["created_at"],
            "data": dumps_json(message),
        }
        try:
            rows = await self.db.write_statement(_APPEND_ALONE, params, append.member.acting())
        except asyncpg.UniqueViolationError as error:
            if error.constraint_name != IDEMPOTENCY_CONSTRAINT:
                raise
            return Refused.REPEAT
        return int(rows[0]["seq"]) if rows else Refused.NOT_A_MEMBER

    async def _append_together(self, appends: Sequence[_Append]) -> list[Appended | Exception]:
        """PostgreSQL: sends that queued for one conversation, by _APPEND_TOGETHER; each
        answers as it would have alone."""
        first = appends[0].member
        batch = [append.message for append in appends]
        params = {
            "cid": first.conversation_id,
            "company": first.company_id,
            "ids": [m["id"] for m in batch],
            "sender_ids": [append.member.user_id for append in appends],
            "client_msg_ids": [m["client_msg_id"] for m in batch],
            "bodies": [m["body"] for m in batch],
            "bodies_html": [m["body_html"] for m in batch],
            "created_ats": [m["created_at"] for m in batch],
            "data": [dumps_json(m) for m in batch],
        }
        try:
            # Row-level security sees the batch as its first sender's; the statement itself
            # checks each sender's membership.
            rows = await self.db.write_statement(_APPEND_TOGETHER, params, first.acting())
        except asyncpg.UniqueViolationError as error:
            if error.constraint_name != IDEMPOTENCY_CONSTRAINT:
                raise
            # A client_msg_id used before, or twice in this batch: nothing was written; one
            # by one, each send finds out which, in the order they came.
            return await self._one_by_one(appends)
        except asyncpg.InsufficientPrivilegeError:
            # Row-level security refused the batch as its first sender's, who takes no part
            # (an open channel's row is theirs to see, its messages are not): nothing was
            # written; one by one, each send is seen as its own sender's.
            return await self._one_by_one(appends)
        if not rows and self.db.row_security:
            # Nothing stored: the conversation may be hidden from the first sender alone.
            return await self._one_by_one(appends)
        seqs = {row["id"]: int(row["seq"]) for row in rows}
        return [seqs.get(m["id"], Refused.NOT_A_MEMBER) for m in batch]

    async def _one_by_one(self, appends: Sequence[_Append]) -> list[Appended | Exception]:
        return [await _outcome(self._append_alone(append)) for append in appends]


class _Repeat(Exception):
    """Rolls back an append whose client_msg_id was used before."""


async def _outcome(append: Awaitable[Appended]) -> Appended | Exception:
    try:
        result: Appended = await append
    except Exception as error:
        return error
    return result
