"""Reading history in windows: keyset pages on seq, newest window first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from hallway.domain.access import CONVERSATION_NOT_FOUND, as_member, message_for_member
from hallway.domain.actor import Actor
from hallway.domain.context import DomainContext
from hallway.domain.cursors import decode_number_cursor, encode_cursor
from hallway.domain.errors import InvalidInput, NotFound
from hallway.domain.message_views import message_dict, message_views, needs_lookups
from hallway.store.message_log import MESSAGE_COLUMNS, read_window_in
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
    """The `limit` messages before the cursor (or the newest)."""
    check_limit(limit)
    member = as_member(actor, conversation_id)
    before_seq = None if before is None else decode_number_cursor(before, "seq", "before")
    window = await ctx.message_log.read_window(member, limit=limit, before=before_seq)
    if window is None:
        raise NotFound(CONVERSATION_NOT_FOUND)
    if needs_lookups(window.messages):
        # Their files and reactions must come from the window's snapshot (or a client
        # would count a reaction twice: in the page and again after last_seq).
        async with ctx.db.read() as conn:
            window = await read_window_in(conn, member, limit=limit, before=before_seq)
            if window is None:  # no longer theirs
                raise NotFound(CONVERSATION_NOT_FOUND)
            views = await message_views(conn, actor, window.messages, ctx.links)
    else:
        views = [message_dict(r) for r in window.messages]
    return MessagePage(
        messages=views,
        next_cursor=encode_cursor("seq", views[0]["seq"]) if window.has_more else None,
        has_more=window.has_more,
        last_seq=window.last_seq,
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
        rows = list((await conn.execute(query)).mappings())
        has_more = len(rows) > limit
        rows = rows[:limit]
        root_view, *replies = await message_views(conn, actor, [root, *rows], ctx.links)
    return {
        "root": root_view,
        "replies": replies,
        "next_cursor": encode_cursor("seq", rows[-1]["seq"]) if has_more else None,
        "has_more": has_more,
    }
