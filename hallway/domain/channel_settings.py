"""A channel's topic (any member sets it) and archiving it (its creator or an admin):
an archived channel is read-only until it is unarchived. Both log `conversation.updated`
with the channel's title, topic and archived_at as they now are."""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy import update

from hallway.domain.access import conversation_for_member
from hallway.domain.actor import Actor
from hallway.domain.context import DomainContext, Transaction
from hallway.domain.conversations import conversation_view
from hallway.domain.errors import Forbidden, InvalidInput
from hallway.domain.events import append_event
from hallway.store.tables import conversations
from hallway.store.types import AnyRow

MAX_TOPIC_CHARS = 250


def clean_topic(topic: str | None) -> str | None:
    topic = (topic or "").strip() or None
    if topic is not None and len(topic) > MAX_TOPIC_CHARS:
        raise InvalidInput(
            f"the topic may have at most {MAX_TOPIC_CHARS} characters", field="topic"
        )
    if topic is not None and any(
        unicodedata.category(c) in ("Cc", "Cs") and c != "\n" for c in topic
    ):
        raise InvalidInput("the topic may not hold control characters", field="topic")
    return topic


async def _channel(tx: Transaction, actor: Actor, conversation_id: str) -> AnyRow:
    row = await conversation_for_member(tx.conn, actor, conversation_id, lock=True)
    if row.kind != "channel":
        raise InvalidInput("only a channel has a topic and can be archived", code="not_a_channel")
    return row


async def _log_update(
    tx: Transaction, actor: Actor, conversation_id: str, values: dict[str, Any]
) -> dict[str, Any]:
    await tx.conn.execute(
        update(conversations).where(conversations.c.id == conversation_id).values(**values)
    )
    view = await conversation_view(tx.conn, actor, conversation_id)
    await append_event(
        tx,
        conversation_id,
        "conversation.updated",
        {
            "title": view["title"],
            "topic": view["topic"],
            "archived_at": view["archived_at"],
            "updated_by": actor.user_id,
        },
    )
    view["last_seq"] += 1
    return view


async def set_topic(
    ctx: DomainContext, actor: Actor, conversation_id: str, topic: str | None
) -> dict[str, Any]:
    """Any member sets or clears (None, or only spaces) the channel's topic."""
    topic = clean_topic(topic)
    async with ctx.transaction() as tx:
        row = await _channel(tx, actor, conversation_id)
        if topic == row.topic:
            return await conversation_view(tx.conn, actor, conversation_id)
        return await _log_update(tx, actor, conversation_id, {"topic": topic})


async def set_archived(
    ctx: DomainContext, actor: Actor, conversation_id: str, *, archived: bool
) -> dict[str, Any]:
    """Archive (read-only: no sends, edits or reactions) or unarchive a channel: its
    creator or a company admin who is a member. Asking for what is already so changes
    nothing."""
    async with ctx.transaction() as tx:
        row = await _channel(tx, actor, conversation_id)
        if not (actor.is_admin or row.created_by == actor.user_id):
            raise Forbidden(
                "only the channel's creator or an admin may archive it", code="not_creator"
            )
        if (row.archived_at is not None) == archived:
            return await conversation_view(tx.conn, actor, conversation_id)
        values: dict[str, Any] = (
            {"archived_at": tx.now, "archived_by": actor.user_id}
            if archived
            else {"archived_at": None, "archived_by": None}
        )
        return await _log_update(tx, actor, conversation_id, values)
