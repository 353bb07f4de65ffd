"""Read receipts: how far each person has read, which drives unread counts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from hallway.domain.access import conversation_for_member
from hallway.domain.actor import Actor
from hallway.domain.context import DomainContext
from hallway.domain.errors import InvalidInput
from hallway.domain.events import append_event
from hallway.store.tables import participants


async def mark_read(
    ctx: DomainContext, actor: Actor, conversation_id: str, seq: int
) -> dict[str, Any]:
    """Move the read marker forward (never back) to `seq`, capped at the last seq."""
    if seq < 0:
        raise InvalidInput("seq must be 0 or more", field="seq")
    async with ctx.transaction() as tx:
        conversation = await conversation_for_member(tx.conn, actor, conversation_id)
        target = min(seq, int(conversation.last_seq))
        current = int(conversation.last_read_seq)
        if target <= current:
            return {"conversation_id": conversation_id, "last_read_seq": current}
        await tx.conn.execute(
            update(participants)
            .where(
                participants.c.conversation_id == conversation_id,
                participants.c.user_id == actor.user_id,
            )
            .values(last_read_seq=target)
        )
        await append_event(
            tx,
            conversation_id,
            "receipt.updated",
            {"user_id": actor.user_id, "last_read_seq": target},
        )
    return {"conversation_id": conversation_id, "last_read_seq": target}
