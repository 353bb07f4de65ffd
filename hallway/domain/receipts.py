"""Read receipts: how far each person has read, which drives unread counts and, in direct
conversations and groups, "seen by".

Who learns of a marker that moved: in a direct conversation or a group, every member (the
`receipt.updated` event, logged like any other); in a channel only the reader's own sockets
(a `receipt` frame on their person's topic, not logged): a channel's many readers would
otherwise fill its log and every subscriber's socket with markers nobody shows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from hallway.domain.access import conversation_for_member
from hallway.domain.actor import Actor
from hallway.domain.context import DomainContext, Transaction
from hallway.domain.errors import InvalidInput
from hallway.domain.events import append_event
from hallway.store.tables import messages, participants
from hallway.store.types import AnyRow


def _marker(conversation_id: str, last_read_seq: int) -> dict[str, Any]:
    return {"conversation_id": conversation_id, "last_read_seq": last_read_seq}


async def _announce(
    tx: Transaction, conversation: AnyRow, actor: Actor, last_read_seq: int
) -> dict[str, Any] | None:
    """Log `receipt.updated` outside channels; for a channel, the personal frame to send
    after commit."""
    if conversation.kind != "channel":
        await append_event(
            tx,
            conversation.id,
            "receipt.updated",
            {"user_id": actor.user_id, "last_read_seq": last_read_seq},
        )
        return None
    return {
        "type": "receipt",
        "conversation_id": conversation.id,
        "user_id": actor.user_id,
        "last_read_seq": last_read_seq,
    }


async def _move(
    ctx: DomainContext, actor: Actor, conversation_id: str, seq: int, *, back: bool
) -> dict[str, Any]:
    frame: dict[str, Any] | None = None
    async with ctx.transaction() as tx:
        conversation = await conversation_for_member(tx.conn, actor, conversation_id)
        mine = (participants.c.conversation_id == conversation_id) & (
            participants.c.user_id == actor.user_id
        )
        if back:
            found = await tx.conn.execute(
                select(messages.c.seq).where(
                    messages.c.conversation_id == conversation_id, messages.c.seq == seq
                )
            )
            if found.first() is None:
                raise InvalidInput(
                    "seq is not the seq of a message of this conversation", field="seq"
                )
            target = seq - 1
            # Only ever back: marking unread a message already unread changes nothing.
            condition = participants.c.last_read_seq > target
        else:
            target = min(seq, int(conversation.last_seq))
            # The condition is re-checked under the row lock, so of two receipts racing
            # (two tabs), the one further back changes nothing instead of moving the
            # marker back.
            condition = participants.c.last_read_seq < target
        moved = await tx.conn.execute(
            update(participants).where(mine, condition).values(last_read_seq=target)
        )
        if not moved.rowcount:
            marker = await tx.conn.execute(select(participants.c.last_read_seq).where(mine))
            return _marker(conversation_id, int(marker.scalar_one()))
        frame = await _announce(tx, conversation, actor, target)
    if frame is not None:
        await ctx.to_person(actor.user_id, frame)
    return _marker(conversation_id, target)


async def mark_read(
    ctx: DomainContext, actor: Actor, conversation_id: str, seq: int
) -> dict[str, Any]:
    """Move the read marker forward (never back) to `seq`, capped at the last seq."""
    if seq < 0:
        raise InvalidInput("seq must be 0 or more", field="seq")
    return await _move(ctx, actor, conversation_id, seq, back=False)


async def mark_unread(
    ctx: DomainContext, actor: Actor, conversation_id: str, seq: int
) -> dict[str, Any]:
    """Move the read marker back to just before the message of `seq`: the one way a marker
    goes back. A marker already before it stays."""
    if seq < 1:
        raise InvalidInput("seq must be 1 or more", field="seq")
    return await _move(ctx, actor, conversation_id, seq, back=True)
