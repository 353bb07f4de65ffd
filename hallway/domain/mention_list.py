"""GET /mentions: the messages that mention me, newest first, across my conversations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_

from hallway.domain.actor import Actor
from hallway.domain.context import DomainContext
from hallway.domain.cursors import decode_cursor, encode_cursor
from hallway.domain.errors import InvalidInput
from hallway.domain.mentions import mentions_me
from hallway.domain.message_views import message_views
from hallway.store.message_log import MESSAGE_COLUMNS
from hallway.store.tables import mentions, messages, participants

MAX_PAGE = 100


async def list_mentions(
    ctx: DomainContext, actor: Actor, *, limit: int, before: str | None
) -> dict[str, Any]:
    """My mentions, newest first, in conversations I still take part in, not deleted and
    not sent by me; paged with `before` (the last item's cursor)."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be 1..{MAX_PAGE}", field="limit")
    mentioned = (
        select(mentions.c.message_id)
        .join(
            participants,
            (participants.c.conversation_id == mentions.c.conversation_id)
            & (participants.c.user_id == actor.user_id),
        )
        .where(mentions.c.company_id == actor.company_id, mentions_me(actor.user_id))
    )
    query = (
        select(*MESSAGE_COLUMNS)
        .where(
            messages.c.id.in_(mentioned),
            messages.c.deleted_at.is_(None),
            messages.c.sender_id.is_distinct_from(actor.user_id),
        )
        .order_by(messages.c.created_at.desc(), messages.c.id.desc())
        .limit(limit + 1)
    )
    if before is not None:
        at, message_id = _decode(before)
        query = query.where(tuple_(messages.c.created_at, messages.c.id) < tuple_(at, message_id))
    async with ctx.db.read() as conn:
        rows = list((await conn.execute(query)).mappings())
        has_more = len(rows) > limit
        rows = rows[:limit]
        views = await message_views(conn, actor, rows, ctx.links)
    last = rows[-1] if has_more else None
    return {
        "mentions": [{"conversation_id": v["conversation_id"], "message": v} for v in views],
        "next_cursor": (
            encode_cursor("mention", last["created_at"].isoformat(), last["id"]) if last else None
        ),
        "has_more": has_more,
    }


def _decode(cursor: str) -> tuple[datetime, str]:
    parts = decode_cursor(cursor, "before")
    if len(parts) == 3 and parts[0] == "mention":
        try:
            at = datetime.fromisoformat(parts[1])
        except ValueError:
            at = None
        if at is not None and at.tzinfo is not None:
            return at, parts[2]
    raise InvalidInput("the cursor is not valid", code="invalid_cursor", field="before")
