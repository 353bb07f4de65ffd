"""Reading history in windows: keyset pages on seq, newest window first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, select, true

from hallway.domain.access import (
    CONVERSATION_NOT_FOUND,
    MEMBER_CONVERSATION,
    member_params,
    message_for_member,
)
from hallway.domain.actor import Actor
from hallway.domain.context import DomainContext
from hallway.domain.cursors import decode_number_cursor, encode_cursor
from hallway.domain.errors import InvalidInput, NotFound
from hallway.domain.message_views import (
    MESSAGE_COLUMNS,
    MessageRow,
    message_dict,
    message_views,
    needs_lookups,
)
from hallway.store.prepared import Prepared
from hallway.store.tables import conversations, messages

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


def _page_query(*, before: bool) -> Select[Any]:
    """One statement for a whole window, so it reads one snapshot without a transaction:
    the conversation's last_seq (only if the actor takes part in it: no row otherwise) with
    the `:limit` messages before `:before` (or the newest), oldest first (one row of NULLs
    when there are none). The page comes from the (conversation, seq) index, so its cost
    does not grow with how far back it is."""
    page = (
        select(*MESSAGE_COLUMNS)
        .where(messages.c.conversation_id == bindparam("cid"))
        .order_by(messages.c.seq.desc())
        .limit(bindparam("limit"))
    )
    if before:
        page = page.where(messages.c.seq < bindparam("before"))
    window = page.subquery("window")
    return (
        select(window, conversations.c.last_seq.label("conversation_last_seq"))
        .select_from(conversations.outerjoin(window, true()))
        .where(MEMBER_CONVERSATION)
        .order_by(window.c.seq)
    )


_PAGE = {False: Prepared(_page_query(before=False)), True: Prepared(_page_query(before=True))}
_LAST_SEQ = -1  # the position of conversation_last_seq in _PAGE's rows


def _messages_of(rows: Sequence[MessageRow], limit: int) -> list[MessageRow]:
    """The window's messages from _PAGE's rows: at most `limit`, the newest ones."""
    return [r for r in rows if r[0] is not None][-limit:]  # r[0]: the message id


async def message_page(
    ctx: DomainContext, actor: Actor, conversation_id: str, *, limit: int, before: str | None
) -> MessagePage:
    """The `limit` messages before the cursor (or the newest)."""
    check_limit(limit)
    params: dict[str, Any] = {**member_params(actor, conversation_id), "limit": limit + 1}
    if before is not None:
        params["before"] = decode_number_cursor(before, "seq", "before")
    query = _PAGE[before is not None]
    rows = await ctx.db.read_statement(query, params)
    if needs_lookups(rows):
        # Their files and reactions must come from the window's snapshot (or a client
        # would count a reaction twice: in the page and again after last_seq).
        async with ctx.db.read() as conn:
            rows = list(await conn.execute(query.statement, params))
            views = await message_views(conn, actor, _messages_of(rows, limit), ctx.links)
    else:
        views = [message_dict(r) for r in _messages_of(rows, limit)]
    if not rows:
        raise NotFound(CONVERSATION_NOT_FOUND)
    has_more = len(rows) > limit  # with no message, the one row is no message
    return MessagePage(
        messages=views,
        next_cursor=encode_cursor("seq", views[0]["seq"]) if has_more else None,
        has_more=has_more,
        last_seq=int(rows[0][_LAST_SEQ]),
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
