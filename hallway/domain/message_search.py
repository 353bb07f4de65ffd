"""Searching the messages of one's own conversations, newest first.

The query language is hallway.domain.search_query's: words (all must occur, the last also as
the start of a longer word, so that results can follow typing), "quoted phrases", and
filters (`from:@person`, `in:#channel`, `before:`/`after:`/`on:` dates, `has:file`,
`has:link`, `is:thread`). Filters name people and conversations as people type them; they
are looked up here, among the actor's company and conversations.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, and_, exists, or_, select

from hallway.domain.access import conversation_for_member, member_conversation_ids
from hallway.domain.actor import Actor
from hallway.domain.context import DomainContext
from hallway.domain.cursors import decode_number_cursor, decode_time_cursor, encode_cursor
from hallway.domain.errors import InvalidInput
from hallway.domain.message_history import check_limit
from hallway.domain.message_views import message_views
from hallway.domain.search_query import SearchQuery, highlight, parse_query
from hallway.store import search, search_index
from hallway.store.database import Connection
from hallway.store.message_log import MESSAGE_COLUMNS
from hallway.store.names import channel_key
from hallway.store.tables import attachments, conversations, messages, participants, users
from hallway.store.types import AnySelect

_ROW_CURSOR = "row"
_replies = messages.alias("replies")


def _matching(
    ctx: DomainContext, query: AnySelect, parsed: SearchQuery, cursor: str | None
) -> AnySelect:
    """The backend's text match (if any words) and newest-first order, resumed after the
    cursor."""
    words, phrases, prefix = parsed.words, parsed.phrases, parsed.prefix_last
    if ctx.db.is_sqlite:
        if parsed.has_text:
            query = search.sqlite_matches(query, words, phrases, prefix_last=prefix)
        after_rowid = (
            None if cursor is None else decode_number_cursor(cursor, _ROW_CURSOR, "cursor")
        )
        return search.sqlite_newest_first(query, after_rowid, matched=parsed.has_text)
    if parsed.has_text:
        query = search.postgresql_matches(query, words, phrases, prefix_last=prefix)
    after = None if cursor is None else decode_time_cursor(cursor, "cursor")
    return search.postgresql_newest_first(query, after)


def _cursor_after(ctx: DomainContext, row: RowMapping) -> str:
    if ctx.db.is_sqlite:
        return encode_cursor(_ROW_CURSOR, row["search_rowid"])
    return encode_cursor(row["created_at"].isoformat(), row["id"])


def _name_key(name: str) -> str:
    """Names compare ignoring case, Unicode forms and spaces: `annlee` is "Ann Lee"."""
    return "".join(unicodedata.normalize("NFKC", name).casefold().split())


async def _senders(conn: Connection, actor: Actor, names: list[str]) -> list[str]:
    """The ids of the company's people that `from:` names: by display name, the part of
    their email before the @, or id. Each name must name someone."""
    rows = (
        await conn.execute(
            select(users.c.id, users.c.display_name, users.c.email).where(
                users.c.company_id == actor.company_id
            )
        )
    ).all()
    found: list[str] = []
    for name in names:
        key = _name_key(name)
        named = [
            row.id
            for row in rows
            if key in (_name_key(row.display_name), _name_key(row.email.split("@")[0]), row.id)
        ]
        if not named:
            raise InvalidInput(
                f"from: names no one in your company: {name[:100]!r}",
                code="unknown_person",
                field="q",
            )
        found += named
    return found


async def _conversations(conn: Connection, actor: Actor, names: list[str]) -> list[str]:
    """The ids of the actor's channels and groups that `in:` names, by title."""
    rows = (
        await conn.execute(
            select(conversations.c.id, conversations.c.title)
            .join(participants, participants.c.conversation_id == conversations.c.id)
            .where(
                conversations.c.company_id == actor.company_id,
                participants.c.user_id == actor.user_id,
                conversations.c.title.is_not(None),
            )
        )
    ).all()
    found: list[str] = []
    for name in names:
        key = channel_key(name)
        named = [row.id for row in rows if channel_key(row.title) == key]
        if not named:
            raise InvalidInput(
                f"in: names none of your conversations: {name[:100]!r}",
                code="unknown_conversation",
                field="q",
            )
        found += named
    return found


def _day_start(day: date) -> datetime:
    """Days are UTC days."""
    return datetime.combine(day, time(), tzinfo=UTC)


def _date_filters(parsed: SearchQuery) -> list[ColumnElement[bool]]:
    created = messages.c.created_at
    found = []
    if parsed.before is not None:
        found.append(created < _day_start(parsed.before))
    if parsed.after is not None:
        found.append(created >= _day_start(parsed.after + timedelta(days=1)))
    if parsed.on is not None:
        found.append(
            and_(
                created >= _day_start(parsed.on),
                created < _day_start(parsed.on + timedelta(days=1)),
            )
        )
    return found


def _kind_filters(parsed: SearchQuery) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if parsed.has_file:
        found.append(exists().where(attachments.c.message_id == messages.c.id))
    if parsed.has_link:
        found.append(
            or_(
                messages.c.body.contains("http://", autoescape=True),
                messages.c.body.contains("https://", autoescape=True),
            )
        )
    if parsed.is_thread:
        # A reply, or a root that has replies.
        found.append(
            or_(
                messages.c.thread_root_id.is_not(None),
                exists().where(_replies.c.thread_root_id == messages.c.id),
            )
        )
    return found


async def search_messages(
    ctx: DomainContext,
    actor: Actor,
    text: str,
    *,
    conversation_id: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Messages matching `text` in the actor's conversations (or in one of them), newest
    first, each with the ranges of its matched words. Deleted messages never match; an
    edited one matches its current body only."""
    await ctx.rate_limits.hit(ctx.rate_limits.search, actor.user_id)
    parsed = parse_query(text)
    check_limit(limit)
    columns: list[Any] = [*MESSAGE_COLUMNS]
    if ctx.db.is_sqlite:
        columns.append(search.MESSAGE_ROWID.label("search_rowid"))
    query = select(*columns).where(
        messages.c.conversation_id.in_(member_conversation_ids(actor)),
        messages.c.deleted_at.is_(None),
        *_date_filters(parsed),
        *_kind_filters(parsed),
    )
    if conversation_id is not None:
        query = query.where(messages.c.conversation_id == conversation_id)
    # SQLite's index catches up in batches; what was sent before this search is in it now.
    await search_index.index_pending(ctx.db)
    # A word common in the company but rare in the actor's conversations means reading far
    # into the matches.
    async with ctx.db.read(off_loop=True) as conn:
        if conversation_id is not None:
            await conversation_for_member(conn, actor, conversation_id)
        if parsed.senders:
            query = query.where(
                messages.c.sender_id.in_(await _senders(conn, actor, parsed.senders))
            )
        if parsed.conversations:
            query = query.where(
                messages.c.conversation_id.in_(
                    await _conversations(conn, actor, parsed.conversations)
                )
            )
        query = _matching(ctx, query, parsed, cursor).limit(limit + 1)
        rows = list((await conn.execute(query)).mappings())
        has_more = len(rows) > limit
        rows = rows[:limit]
        views = await message_views(conn, actor, rows, ctx.links)
    return {
        "results": [
            {"message": view, "highlight": highlight(view["body"], parsed)} for view in views
        ],
        "next_cursor": _cursor_after(ctx, rows[-1]) if has_more else None,
        "has_more": has_more,
    }
