"""How a message looks to a reader: its row plus attachments and reaction counts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, and_, case, func, or_, select

from hallway.domain.actor import Actor
from hallway.domain.attachment_links import attachment_with_links
from hallway.domain.mentions import NOBODY, Resolved, load_mentions, may_mention
from hallway.domain.message_format import render_body
from hallway.files.links import FileLinks
from hallway.store.database import Connection
from hallway.store.message_log import MESSAGE_COLUMNS
from hallway.store.tables import attachments, messages, reactions
from hallway.store.types import AnyRow

MessageRow = Mapping[str, Any] | RowMapping
"""A message as MESSAGE_COLUMNS reads it (hallway.store.message_log), by column name: a
dict from the conversation log's hot statements, or SQLAlchemy's RowMapping."""


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
    thread: MessageRow | None = None,
) -> dict[str, Any]:
    """A deleted message as every reader sees it: its place in history (who sent it,
    when, in which thread, and a root's replies, which stay) without any content, nor
    even whether it was edited or whom it mentioned. It is also the data of its erased
    `message.created` event (hallway/domain/erasure.py). `thread`: its row's thread
    summary, if it has one."""
    return {
        "id": message_id,
        "conversation_id": conversation_id,
        "seq": int(seq),
        "sender_id": sender_id,
        "body": "",
        "body_html": "",
        "client_msg_id": client_msg_id,
        "thread_root_id": thread_root_id,
        "created_at": created_at,
        "edited_at": None,
        "deleted_at": deleted_at,
        "deleted_by": deleted_by,
        "attachments": [],
        "reactions": [],
        "mentions": [],
        "mention_kind": None,
        **thread_summary(thread),
    }


def thread_summary(row: MessageRow | None) -> dict[str, Any]:
    """A root's reply_count, last_reply_at and reply_user_ids from its row (the ids are
    kept separated by spaces); a message that is no root has 0, None and []."""
    if row is None:
        return {"reply_count": 0, "last_reply_at": None, "reply_user_ids": []}
    return {
        "reply_count": int(row["reply_count"]),
        "last_reply_at": row["last_reply_at"],
        "reply_user_ids": str(row["reply_user_ids"]).split(),
    }


def message_dict(
    row: MessageRow,
    *,
    attachment_list: list[dict[str, Any]] | None = None,
    reaction_list: list[dict[str, Any]] | None = None,
    mentioned: Resolved = NOBODY,
) -> dict[str, Any]:
    """The message as readers see it, from its row."""
    if row["deleted_at"] is not None:
        return deleted_message_dict(
            message_id=row["id"],
            conversation_id=row["conversation_id"],
            seq=row["seq"],
            sender_id=row["sender_id"],
            client_msg_id=row["client_msg_id"],
            thread_root_id=row["thread_root_id"],
            created_at=row["created_at"],
            deleted_at=row["deleted_at"],
            deleted_by=row["deleted_by"],
            thread=row,
        )
    return {
        "id": row["id"],
        "conversation_id": row["conversation_id"],
        "seq": int(row["seq"]),
        "sender_id": row["sender_id"],
        "body": row["body"],
        # NULL for a message stored before bodies were kept rendered (migration 0015).
        "body_html": row["body_html"] if row["body_html"] is not None else render_body(row["body"]),
        "client_msg_id": row["client_msg_id"],
        "thread_root_id": row["thread_root_id"],
        "created_at": row["created_at"],
        "edited_at": row["edited_at"],
        "deleted_at": None,
        "deleted_by": None,
        "attachments": attachment_list or [],
        "reactions": reaction_list or [],
        **mentioned.fields(),
        # thread_summary, written out: every history window builds this for each row.
        "reply_count": row["reply_count"],
        "last_reply_at": row["last_reply_at"],
        "reply_user_ids": row["reply_user_ids"].split() if row["reply_user_ids"] else [],
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
    """Whether message_views has files, reactions or mentions to look up for these rows."""
    return any(r["has_files"] or r["has_reactions"] or may_mention(r["body"]) for r in rows)


async def message_views(
    conn: Connection, actor: Actor, rows: Sequence[MessageRow], links: FileLinks
) -> list[dict[str, Any]]:
    """Message rows as messages, with their files, reactions and mentions."""
    with_files = [r["id"] for r in rows if r["has_files"]]
    found_attachments = await load_attachments(conn, with_files, links)
    with_reactions = [r["id"] for r in rows if r["has_reactions"]]
    found_reactions = await load_reactions(conn, actor, with_reactions)
    # Only a body with an `@` can mention anyone (hallway.domain.mentions).
    with_mentions = [r["id"] for r in rows if r["deleted_at"] is None and may_mention(r["body"])]
    found_mentions = await load_mentions(conn, with_mentions)
    return [
        message_dict(
            r,
            attachment_list=found_attachments.get(r["id"]),
            reaction_list=found_reactions.get(r["id"]),
            mentioned=found_mentions.get(r["id"], NOBODY),
        )
        for r in rows
    ]


async def load_messages_by_seq(
    conn: Connection, actor: Actor, keys: list[tuple[str, int]], links: FileLinks
) -> dict[str, dict[str, Any]]:
    """Messages by (conversation_id, seq): the last message of each listed conversation."""
    if not keys:
        return {}
    result = await conn.execute(
        select(*MESSAGE_COLUMNS).where(
            or_(*(and_(messages.c.conversation_id == c, messages.c.seq == s) for c, s in keys))
        )
    )
    rows = list(result.mappings())
    views = await message_views(conn, actor, rows, links)
    return {view["conversation_id"]: view for view in views}
