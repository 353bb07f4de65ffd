"""How a message looks to a reader: its row plus attachments and reaction counts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select

from hallway.domain.actor import Actor
from hallway.domain.attachment_links import attachment_with_links
from hallway.files.links import FileLinks
from hallway.store.database import Connection
from hallway.store.tables import attachments, messages, reactions
from hallway.store.types import AnyRow

MESSAGE_COLUMNS = (
    messages.c.id,
    messages.c.conversation_id,
    messages.c.seq,
    messages.c.sender_id,
    messages.c.body,
    messages.c.client_msg_id,
    messages.c.thread_root_id,
    messages.c.created_at,
    messages.c.edited_at,
    messages.c.deleted_at,
    messages.c.deleted_by,
    # Index probes that let message_views skip its follow-up queries for the (usual) page
    # without files or reactions.
    exists()
    .where(attachments.c.message_id == messages.c.id, attachments.c.deleted_at.is_(None))
    .label("has_files"),
    exists().where(reactions.c.message_id == messages.c.id).label("has_reactions"),
)
"""A message row as message_views takes it: every column plus whether it has files and
reactions. They are read by position (rows may carry more columns after these): a Row's
attribute access costs about 0.9 us (SQLAlchemy 2.1), and a page of 50 messages read 800
attributes."""
_ID, _HAS_FILES, _HAS_REACTIONS = 0, 11, 12

MessageRow = Sequence[Any]
"""A row that starts with MESSAGE_COLUMNS: a SQLAlchemy Row, or a hot statement's tuple
(hallway.store.prepared)."""


def deleted_message_dict(
    *,
    message_id: str,
    conversation_id: str,
    seq: int,
    sender_id: str | None,
    client_msg_id: str | None,
    thread_root_id: str | None,
    created_at: datetime,
    deleted_at: datetime,
    deleted_by: str | None,
) -> dict[str, Any]:
    """A deleted message as every reader sees it: its place in history (who sent it,
    when, in which thread) without any content, nor even whether it was edited. It is
    also the data of its erased `message.created` event (hallway/domain/erasure.py)."""
    return {
        "id": message_id,
        "conversation_id": conversation_id,
        "seq": int(seq),
        "sender_id": sender_id,
        "body": "",
        "client_msg_id": client_msg_id,
        "thread_root_id": thread_root_id,
        "created_at": created_at,
        "edited_at": None,
        "deleted_at": deleted_at,
        "deleted_by": deleted_by,
        "attachments": [],
        "reactions": [],
    }


def message_dict(
    row: MessageRow,
    *,
    attachment_list: list[dict[str, Any]] | None = None,
    reaction_list: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The message as readers see it, from a row that starts with MESSAGE_COLUMNS."""
    (
        message_id,
        conversation_id,
        seq,
        sender_id,
        body,
        client_msg_id,
        thread_root_id,
        created_at,
        edited_at,
        deleted_at,
        deleted_by,
    ) = row[:_HAS_FILES]
    if deleted_at is not None:
        return deleted_message_dict(
            message_id=message_id,
            conversation_id=conversation_id,
            seq=seq,
            sender_id=sender_id,
            client_msg_id=client_msg_id,
            thread_root_id=thread_root_id,
            created_at=created_at,
            deleted_at=deleted_at,
            deleted_by=deleted_by,
        )
    return {
        "id": message_id,
        "conversation_id": conversation_id,
        "seq": int(seq),
        "sender_id": sender_id,
        "body": body,
        "client_msg_id": client_msg_id,
        "thread_root_id": thread_root_id,
        "created_at": created_at,
        "edited_at": edited_at,
        "deleted_at": None,
        "deleted_by": None,
        "attachments": attachment_list or [],
        "reactions": reaction_list or [],
    }


def attachment_dict(row: AnyRow) -> dict[str, Any]:
    """An attachment's metadata, without links: the form the event log keeps."""
    return {
        "id": row.id,
        "filename": row.filename,
        "content_type": row.content_type,
        "size": int(row.size),
        "width": row.width,
        "height": row.height,
    }


async def load_attachments(
    conn: Connection, message_ids: list[str], links: FileLinks
) -> dict[str, list[dict[str, Any]]]:
    """Per message: its attachments with freshly signed links."""
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if not message_ids:
        return found
    rows = await conn.execute(
        select(attachments)
        .where(attachments.c.message_id.in_(message_ids), attachments.c.deleted_at.is_(None))
        .order_by(attachments.c.created_at, attachments.c.id)
    )
    for r in rows:
        found[r.message_id].append(
            attachment_with_links(links, r.conversation_id, attachment_dict(r))
        )
    return found


async def load_reactions(
    conn: Connection, actor: Actor, message_ids: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """Per message: [{emoji, count, me}] in the order each emoji was first used."""
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if not message_ids:
        return found
    rows = await conn.execute(
        select(
            reactions.c.message_id,
            reactions.c.emoji,
            func.count().label("n"),
            func.min(reactions.c.created_at).label("first_at"),
            func.sum(case((reactions.c.user_id == actor.user_id, 1), else_=0)).label("mine"),
        )
        .where(reactions.c.message_id.in_(message_ids))
        .group_by(reactions.c.message_id, reactions.c.emoji)
        .order_by(reactions.c.message_id, "first_at", reactions.c.emoji)
    )
    for r in rows:
        found[r.message_id].append({"emoji": r.emoji, "count": int(r.n), "me": bool(r.mine)})
    return found


def needs_lookups(rows: Sequence[MessageRow]) -> bool:
    """Whether message_views has files or reactions to look up for these rows."""
    return any(r[_HAS_FILES] or r[_HAS_REACTIONS] for r in rows)


async def message_views(
    conn: Connection, actor: Actor, rows: Sequence[MessageRow], links: FileLinks
) -> list[dict[str, Any]]:
    """Rows that start with MESSAGE_COLUMNS as messages, with their files and reactions."""
    with_files = [r[_ID] for r in rows if r[_HAS_FILES]]
    found_attachments = await load_attachments(conn, with_files, links)
    with_reactions = [r[_ID] for r in rows if r[_HAS_REACTIONS]]
    found_reactions = await load_reactions(conn, actor, with_reactions)
    return [
        message_dict(
            r,
            attachment_list=found_attachments.get(r[_ID]),
            reaction_list=found_reactions.get(r[_ID]),
        )
        for r in rows
    ]


async def load_messages_by_seq(
    conn: Connection, actor: Actor, keys: list[tuple[str, int]], links: FileLinks
) -> dict[str, dict[str, Any]]:
    """Messages by (conversation_id, seq): the last message of each listed conversation."""
    if not keys:
        return {}
    rows = list(
        await conn.execute(
            select(*MESSAGE_COLUMNS).where(
                or_(*(and_(messages.c.conversation_id == c, messages.c.seq == s) for c, s in keys))
            )
        )
    )
    views = await message_views(conn, actor, rows, links)
    return {view["conversation_id"]: view for view in views}
