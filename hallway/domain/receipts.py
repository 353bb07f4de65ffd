"""Read receipts: how far each person has read, which drives unread counts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

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
        mine = (participants.c.conversation_id == conversation_id) & (
            participants.c.user_id == actor.user_id
        )
        # The condition is re-checked under the row lock, so of two receipts racing (two
        # tabs), the one further back changes nothing instead of moving the marker back.
        moved = await tx.conn.execute(
            update(participants)
            .where(mine, participants.c.last_read_seq < target)
            .values(last_read_seq=target)
        )
        if not moved.rowcount:
            marker = await tx.conn.execute(select(participants.c.last_read_seq).where(mine))
            return {"conversation_id": conversation_id, "last_read_seq": int(marker.scalar_one())}
        await append_event(
            tx,
            conversation_id,
            "receipt.updated",
            {"user_id": actor.user_id, "last_read_seq": target},
        )
    return {"conversation_id": conversation_id, "last_read_seq": target}
