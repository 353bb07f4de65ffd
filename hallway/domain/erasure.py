"""Erasing a message: everything it said goes, in one transaction; its place stays.

The one place that removes a message's content, wherever it is kept: its body (and with
it the search index's entry: SQLite's FTS triggers and PostgreSQL's generated tsvector
follow the body), its earlier bodies, its reactions, its files (marked here, their stored
objects removed once the caller has committed), and every earlier event of it in the
conversation's log. Those events keep their seq and kind, so catch-up stays gap-free, but
their data becomes a tombstone (docs/api.md, "Deleted messages"). Deleting a message calls
it, and so does deleting an account with its messages; so will a retention job, with
nobody as `deleted_by`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, update

from hallway.domain.attachment_cleanup import mark_message_attachments
from hallway.domain.context import Transaction
from hallway.domain.events import append_event
from hallway.domain.message_send import CREATED
from hallway.domain.message_views import deleted_message_dict
from hallway.store.tables import events, message_edits, messages, reactions

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
    """Erase the message in the caller's transaction and log `message.deleted`; None when
    it is already erased (or does not exist), and then nothing changes. The caller checks
    who may do this. `deleted_by` is the person who deleted it, None for no one (a
    retention job).

    The message row is changed first, as an edit changes it before taking the
    conversation's seq: on PostgreSQL an edit or another erasure of the same message
    waits for this one's row lock and then finds it deleted."""
    erased = (
        await tx.conn.execute(
            update(messages)
            .where(messages.c.id == message_id, messages.c.deleted_at.is_(None))
            .values(body="", edited_at=None, deleted_at=tx.now, deleted_by=deleted_by)
            .returning(
                messages.c.conversation_id,
                messages.c.seq,
                messages.c.sender_id,
                messages.c.client_msg_id,
                messages.c.thread_root_id,
                messages.c.created_at,
            )
        )
    ).first()
    if erased is None:
        return None
    message = deleted_message_dict(
        message_id=message_id,
        conversation_id=erased.conversation_id,
        seq=erased.seq,
        sender_id=erased.sender_id,
        client_msg_id=erased.client_msg_id,
        thread_root_id=erased.thread_root_id,
        created_at=erased.created_at,
        deleted_at=tx.now,
        deleted_by=deleted_by,
    )
    await tx.conn.execute(delete(message_edits).where(message_edits.c.message_id == message_id))
    await tx.conn.execute(delete(reactions).where(reactions.c.message_id == message_id))
    attachment_ids = await mark_message_attachments(tx, message_id)
    await _erase_events(tx, message)
    await append_event(
        tx,
        erased.conversation_id,
        DELETED,
        {"id": message_id, "deleted_at": tx.now, "deleted_by": deleted_by},
        message_id=message_id,
    )
    return Erased(message, attachment_ids)


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


async def _erase_events(tx: Transaction, message: dict[str, Any]) -> None:
    for kind, tombstone in event_tombstones(message).items():
        await tx.conn.execute(
            update(events)
            .where(events.c.message_id == message["id"], events.c.kind == kind)
            .values(payload=tombstone)
        )
