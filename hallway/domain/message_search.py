"""Searching the messages of one's own conversations, newest first.

The query is plain words, never a query language: every run of letters and digits is a
word, everything else (quotes, `*`, `-`, `:`, `OR`'s meaning, brackets) only separates words.
All words must occur (AND), ignoring case; the last one also matches as the start of a
longer word (`plan` finds `planning`) so that results can follow typing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import RowMapping, select

from hallway.domain.access import conversation_for_member, member_conversation_ids
from hallway.domain.actor import Actor
from hallway.domain.context import DomainContext
from hallway.domain.cursors import decode_number_cursor, decode_time_cursor, encode_cursor
from hallway.domain.errors import InvalidInput
from hallway.domain.message_history import check_limit
from hallway.domain.message_views import message_views
from hallway.store import search, search_index
from hallway.store.message_log import MESSAGE_COLUMNS
from hallway.store.tables import messages
from hallway.store.types import AnySelect

MAX_WORDS = 16
MAX_WORD_LENGTH = 100  # PostgreSQL cannot index a word of more than 2,047 bytes at all
# A prefix of one or two letters names most of the vocabulary: matching it costs a merge of
# that many word lists, far more than any whole word, and grows with the history.
MIN_PREFIX_LENGTH = 3
_WORD = re.compile(r"[^\W_]+")
_ROW_CURSOR = "row"


@dataclass(frozen=True)
class SearchWords:
    words: list[str]
    prefix_last: bool


def parse_query(text: str) -> SearchWords:
    if "\x00" in text:  # as in every other text field
        raise InvalidInput("q must not contain NUL characters", field="q")
    words = [w.lower() for w in _WORD.findall(text)]
    if not words:
        raise InvalidInput(
            "q must contain a word (letters or digits)", code="empty_query", field="q"
        )
    if len(words) > MAX_WORDS:
        raise InvalidInput(f"q may have at most {MAX_WORDS} words", field="q")
    if any(len(w) > MAX_WORD_LENGTH for w in words):
        raise InvalidInput(f"a word of q may have at most {MAX_WORD_LENGTH} characters", field="q")
    return SearchWords(words, prefix_last=len(words[-1]) >= MIN_PREFIX_LENGTH)


def highlight(body: str, query: SearchWords) -> list[list[int]]:
    """[start, end) offsets, in code points, of the body's words that the query matched."""
    exact = set(query.words)
    prefix = query.words[-1] if query.prefix_last else None
    ranges = []
    for m in _WORD.finditer(body):
        word = m.group().lower()
        if word in exact or (prefix is not None and word.startswith(prefix)):
            ranges.append([m.start(), m.end()])
    return ranges


def _matching(
    ctx: DomainContext, query: AnySelect, words: SearchWords, cursor: str | None
) -> AnySelect:
    """The backend's match and newest-first order, resumed after the cursor."""
    if ctx.db.is_sqlite:
        query = search.sqlite_matches(query, words.words, prefix_last=words.prefix_last)
        if cursor is not None:
            query = search.sqlite_after(query, decode_number_cursor(cursor, _ROW_CURSOR, "cursor"))
        return query
    query = search.postgresql_matches(query, words.words, prefix_last=words.prefix_last)
    if cursor is not None:
        at, message_id = decode_time_cursor(cursor, "cursor")
        query = search.postgresql_after(query, at, message_id)
    return query


def _cursor_after(ctx: DomainContext, row: RowMapping) -> str:
    if ctx.db.is_sqlite:
        return encode_cursor(_ROW_CURSOR, row["search_rowid"])
    return encode_cursor(row["created_at"].isoformat(), row["id"])


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
    words = parse_query(text)
    check_limit(limit)
    columns: list[Any] = [*MESSAGE_COLUMNS]
    if ctx.db.is_sqlite:
        columns.append(search.MESSAGE_ROWID.label("search_rowid"))
    query = select(*columns).where(
        messages.c.conversation_id.in_(member_conversation_ids(actor)),
        messages.c.deleted_at.is_(None),
    )
    if conversation_id is not None:
        query = query.where(messages.c.conversation_id == conversation_id)
    query = _matching(ctx, query, words, cursor).limit(limit + 1)
    # SQLite's index catches up in batches; what was sent before this search is in it now.
    await search_index.index_pending(ctx.db)
    # A word common in the company but rare in the actor's conversations means reading far
    # into the matches.
    async with ctx.db.read(off_loop=True) as conn:
        if conversation_id is not None:
            await conversation_for_member(conn, actor, conversation_id)
        rows = list((await conn.execute(query)).mappings())
        has_more = len(rows) > limit
        rows = rows[:limit]
        views = await message_views(conn, actor, rows, ctx.links)
    return {
        "results": [
            {"message": view, "highlight": highlight(view["body"], words)} for view in views
        ],
        "next_cursor": _cursor_after(ctx, rows[-1]) if has_more else None,
        "has_more": has_more,
    }
