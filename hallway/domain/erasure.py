"""Erasing a message: everything it said goes, in one transaction; its place stays.

The one place that removes a message's content, wherever it is kept: its body (and with
it the search index's entry: SQLite's FTS triggers and PostgreSQL's generated tsvector
follow the body), its earlier bodies, its reactions, its files (marked here, their stored
objects removed once the caller has committed), its count on its thread's root (which
logs `thread.updated`), and every earlier event of it in the
conversation's log. Those events keep their seq and kind, so catch-up stays gap-free, but
their data becomes a tombstone (docs/api.md, "Deleted messages"). Deleting a message calls
it, and so does deleting an account with its messages; so will a retention job, with
nobody as `deleted_by`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from sqlalchemy import bindparam, delete, update

from hallway.domain.attachment_cleanup import mark_messages_attachments
from hallway.domain.context import Transaction
from hallway.domain.events import append_events
from hallway.domain.message_send import CREATED
from hallway.domain.message_views import deleted_message_dict
from hallway.domain.threads import refresh_roots
from hallway.store.tables import events, mentions, message_edits, messages, reactions

DELETED = "message.deleted"
EDITED = "message.edited"
REACTION_KINDS = ("reaction.added", "reaction.removed")


@dataclass(frozen=True, slots=True)
class Erased:
    message: dict[str, Any]
    """The message as every reader now sees it (message_views.deleted_message_dict)."""
    attachment_ids: list[str]
    """Its files, marked for removal: pass them to attachment_cleanup.purge_soon once the
    transaction has committed."""


async def erase_message(tx: Transaction, message_id: str, deleted_by: str | None) -> Erased | None:
    """Erase one message (erase_messages); None when it is already erased or does not
    exist, and then nothing changes."""
    erased = await erase_messages(tx, [message_id], deleted_by)
    return erased[0] if erased else None


async def erase_messages(
    tx: Transaction, message_ids: Sequence[str], deleted_by: str | None
) -> list[Erased]:
    """Erase these messages in the caller's transaction and log a `message.deleted` for
    each, by conversation and seq; those already erased (or absent) are skipped and
    change nothing. A handful of statements whatever the number of messages. The caller
    checks who may do this. `deleted_by` is the person who deleted them, None for no one
    (a retention job).

    The message rows are changed first, as an edit changes its row before taking the
    conversation's seq: on PostgreSQL an edit or another erasure of the same message waits
    for this one's row lock and then finds it deleted."""
    if not message_ids:
        return []
    returned = (
        await tx.conn.execute(
            update(messages)
            .where(messages.c.id.in_(message_ids), messages.c.deleted_at.is_(None))
            .values(body="", body_html="", edited_at=None, deleted_at=tx.now, deleted_by=deleted_by)
            .returning(
                messages.c.id,
                messages.c.conversation_id,
                messages.c.seq,
                messages.c.sender_id,
                messages.c.client_msg_id,
                messages.c.thread_root_id,
                messages.c.created_at,
            )
        )
    ).all()
    if not returned:
        return []
    rows = sorted(returned, key=lambda row: (row.conversation_id, row.seq))
    erased_ids = [row.id for row in rows]
    await tx.conn.execute(delete(message_edits).where(message_edits.c.message_id.in_(erased_ids)))
    await tx.conn.execute(delete(reactions).where(reactions.c.message_id.in_(erased_ids)))
    await tx.conn.execute(delete(mentions).where(mentions.c.message_id.in_(erased_ids)))
    files = await mark_messages_attachments(tx, erased_ids)
    erased = [
        Erased(
            deleted_message_dict(
                message_id=row.id,
                conversation_id=row.conversation_id,
                seq=row.seq,
                sender_id=row.sender_id,
                client_msg_id=row.client_msg_id,
                thread_root_id=row.thread_root_id,
                created_at=row.created_at,
                deleted_at=tx.now,
                deleted_by=deleted_by,
            ),
            files.get(row.id, []),
        )
        for row in rows
    ]
    await _erase_events(tx, [e.message for e in erased])
    deletion = {"deleted_at": tx.now, "deleted_by": deleted_by}
    for conversation_id, of_conversation in groupby(erased, lambda e: e.message["conversation_id"]):
        await append_events(
            tx,
            conversation_id,
            [
                (DELETED, {"id": e.message["id"], **deletion}, e.message["id"])
                for e in of_conversation
            ],
        )
    # Replies erased: their roots count them no more.
    await refresh_roots(tx, [row.thread_root_id for row in rows if row.thread_root_id])
    return erased


def event_tombstones(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The data each earlier event of a deleted message keeps, by kind: message.created
    keeps the message as readers now see it; the others name the message and the deletion
    only (an edit loses its body, a reaction its emoji and who reacted)."""
    deletion = {"deleted_at": message["deleted_at"], "deleted_by": message["deleted_by"]}
    return {
        CREATED: message,
        EDITED: {"id": message["id"], **deletion},
        **{kind: {"message_id": message["id"], **deletion} for kind in REACTION_KINDS},
    }


async def _erase_events(tx: Transaction, erased: Sequence[dict[str, Any]]) -> None:
    """Every earlier event of these messages becomes its kind's tombstone: one statement,
    run for each message and kind."""
    await tx.conn.execute(
        update(events)
        .where(events.c.message_id == bindparam("erased_id"), events.c.kind == bindparam("of_kind"))
        .values(payload=bindparam("tombstone")),
        [
            {"erased_id": message["id"], "of_kind": kind, "tombstone": tombstone}
            for message in erased
            for kind, tombstone in event_tombstones(message).items()
        ],
    )
