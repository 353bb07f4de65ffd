"""The per-conversation event log: append with the next seq, read what came after a seq."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hallway.domain.access import (
    CONVERSATION_NOT_FOUND,
    as_member,
    conversation_for_member,
    refused_send,
)
from hallway.domain.actor import Actor
from hallway.domain.attachment_links import event_with_links
from hallway.domain.context import DomainContext, Event, Transaction
from hallway.domain.errors import InvalidInput, LogTruncated, NotFound
from hallway.store import message_log
from hallway.store.database import Connection

MAX_EVENTS_PAGE = 1000
MAX_SEQ = 2**63 - 1  # seqs are BIGINT; a larger number cannot even be compared with one


async def allocate_seq(tx: Transaction, conversation_id: str, *, activity: bool = False) -> int:
    """Take the conversation's next seq, in the caller's transaction (hallway.store.
    message_log: consecutive seqs, no gaps)."""
    try:
        return await message_log.next_seq(
            tx.conn, conversation_id, activity_at=tx.now if activity else None
        )
    except LookupError:
        raise NotFound(CONVERSATION_NOT_FOUND) from None


async def allocate_member_seq(tx: Transaction, actor: Actor, conversation_id: str) -> int:
    """allocate_seq (with activity) in a conversation the actor takes part in; NotFound
    otherwise, exactly as conversation_for_member would answer; Conflict
    `conversation_archived` in an archived one."""
    member = as_member(actor, conversation_id)
    seq = await message_log.next_member_seq(tx.conn, member, tx.now)
    if seq is None:
        raise await refused_send(tx.conn, actor, conversation_id)
    return seq


def remember_event(
    tx: Transaction, conversation_id: str, seq: int, kind: str, data: dict[str, Any]
) -> Event:
    """Queue an event the caller has written to the log itself, to publish after commit."""
    event = Event(conversation_id, seq, kind, data, tx.now)
    tx.events.append(event)
    return event


async def log_event(
    tx: Transaction,
    conversation_id: str,
    seq: int,
    kind: str,
    data: dict[str, Any],
    *,
    message_id: str | None = None,
) -> Event:
    """Record an event under a seq from allocate_seq; it is published after commit.

    `message_id`: the message the event is about, for every event of a message
    (message.*, reaction.*): erasing the message finds the event by it."""
    await message_log.insert_event(tx.conn, conversation_id, seq, kind, data, tx.now, message_id)
    return remember_event(tx, conversation_id, seq, kind, data)


async def append_events(
    tx: Transaction,
    conversation_id: str,
    entries: Sequence[tuple[str, dict[str, Any], str | None]],
) -> list[Event]:
    """Log several events of one conversation under consecutive seqs taken at once; each
    entry is (kind, data, message_id) as for log_event. Published after commit."""
    try:
        seqs = await message_log.next_seqs(tx.conn, conversation_id, len(entries))
    except LookupError:
        raise NotFound(CONVERSATION_NOT_FOUND) from None
    await message_log.insert_events(
        tx.conn,
        [
            {
                "conversation_id": conversation_id,
                "seq": seq,
                "kind": kind,
                "payload": data,
                "created_at": tx.now,
                "message_id": message_id,
            }
            for seq, (kind, data, message_id) in zip(seqs, entries, strict=True)
        ],
    )
    return [
        remember_event(tx, conversation_id, seq, kind, data)
        for seq, (kind, data, _) in zip(seqs, entries, strict=True)
    ]


async def append_event(
    tx: Transaction,
    conversation_id: str,
    kind: str,
    data: dict[str, Any],
    *,
    activity: bool = False,
    message_id: str | None = None,
) -> Event:
    """allocate_seq, then log_event."""
    seq = await allocate_seq(tx, conversation_id, activity=activity)
    return await log_event(tx, conversation_id, seq, kind, data, message_id=message_id)


async def read_events_after(
    conn: Connection, conversation_id: str, after_seq: int, limit: int
) -> list[Event]:
    rows = await message_log.read_events_after(conn, conversation_id, after_seq, limit)
    return [
        Event(conversation_id, r["seq"], r["kind"], r["payload"], r["created_at"]) for r in rows
    ]


async def read_last_seqs(conn: Connection, conversation_ids: list[str]) -> dict[str, int]:
    """The newest seq of each of these conversations (those that exist)."""
    return await message_log.read_last_seqs(conn, conversation_ids)


async def events_after(
    ctx: DomainContext, actor: Actor, conversation_id: str, after_seq: int, limit: int
) -> tuple[list[Event], int]:
    """Catch-up: the events after `after_seq` and the conversation's current last seq."""
    if not 0 <= after_seq <= MAX_SEQ:
        raise InvalidInput(f"after_seq must be 0..{MAX_SEQ}", field="after_seq")
    if not 1 <= limit <= MAX_EVENTS_PAGE:
        raise InvalidInput(f"limit must be 1..{MAX_EVENTS_PAGE}", field="limit")
    async with ctx.db.read() as conn:
        conversation = await conversation_for_member(conn, actor, conversation_id)
        found = await read_events_after(conn, conversation_id, after_seq, limit)
    if after_seq < int(conversation.last_seq) and (not found or found[0].seq != after_seq + 1):
        raise LogTruncated(
            f"the log no longer holds the events after seq {after_seq} (retention): load the "
            "history window again, then follow from its last seq"
        )
    links = ctx.links
    found = [event_with_links(links, e) for e in found]
    # On PostgreSQL each statement of a read sees the latest commits, so events committed
    # between the two reads may lie past the last_seq read first.
    return found, max([int(conversation.last_seq), *(e.seq for e in found)])
