"""Reading history in windows: keyset pages on seq, newest window first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from hallway.domain.access import conversation_for_member, message_for_member
from hallway.domain.actor import Actor
from hallway.domain.context import DomainContext
from hallway.domain.cursors import decode_number_cursor, encode_cursor
from hallway.domain.errors import InvalidInput
from hallway.domain.message_views import MESSAGE_COLUMNS, message_views
from hallway.store.tables import messages

MAX_PAGE = 100


@dataclass(frozen=True)
class MessagePage:
    messages: list[dict[str, Any]]  # oldest first
    next_cursor: str | None
    has_more: bool
    last_seq: int  # the conversation's newest seq in the same snapshot: subscribe after it


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be 1..{MAX_PAGE}", field="limit")


async def message_page(
    ctx: DomainContext, actor: Actor, conversation_id: str, *, limit: int, before: str | None
) -> MessagePage:
    """The `limit` messages before the cursor (or the newest), via the (conversation, seq)
    index: the cost of a page does not grow with how far back it is."""
    check_limit(limit)
    query = (
        select(*MESSAGE_COLUMNS)
        .where(messages.c.conversation_id == conversation_id)
        .order_by(messages.c.seq.desc())
        .limit(limit + 1)
    )
    if before is not None:
        query = query.where(messages.c.seq < decode_number_cursor(before, "seq", "before"))
    async with ctx.db.read() as conn:
        conversation = await conversation_for_member(conn, actor, conversation_id)
        rows = list(await conn.execute(query))
        has_more = len(rows) > limit
        rows = rows[:limit]
        rows.reverse()
        views = await message_views(conn, actor, rows, ctx.links)
    next_cursor = encode_cursor("seq", rows[0].seq) if has_more else None
    return MessagePage(
        messages=views,
        next_cursor=next_cursor,
        has_more=has_more,
        last_seq=int(conversation.last_seq),
    )


async def get_message(ctx: DomainContext, actor: Actor, message_id: str) -> dict[str, Any]:
    """One message as history shows it, with fresh attachment links."""
    async with ctx.db.read() as conn:
        row = await message_for_member(conn, actor, message_id)
        (view,) = await message_views(conn, actor, [row], ctx.links)
    return view


async def thread_page(
    ctx: DomainContext, actor: Actor, message_id: str, *, limit: int, after: str | None
) -> dict[str, Any]:
    """A thread: its root and the replies, oldest first, paged forwards."""
    check_limit(limit)
    query = (
        select(*MESSAGE_COLUMNS)
        .where(messages.c.thread_root_id == message_id)
        .order_by(messages.c.seq)
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(messages.c.seq > decode_number_cursor(after, "seq", "after"))
    async with ctx.db.read() as conn:
        root = await message_for_member(conn, actor, message_id)
        rows = list(await conn.execute(query))
        has_more = len(rows) > limit
        rows = rows[:limit]
        root_view, *replies = await message_views(conn, actor, [root, *rows], ctx.links)
    return {
        "root": root_view,
        "replies": replies,
        "next_cursor": encode_cursor("seq", rows[-1].seq) if has_more else None,
        "has_more": has_more,
    }
