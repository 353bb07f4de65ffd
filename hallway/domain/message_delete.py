"""Deleting a message: its place in history stays, everything it said goes (erasure.py)."""

from __future__ import annotations

from hallway.domain.access import conversation_for_member, message_for_member
from hallway.domain.actor import Actor
from hallway.domain.attachment_cleanup import purge_soon
from hallway.domain.context import DomainContext
from hallway.domain.erasure import erase_message
from hallway.domain.errors import Forbidden


async def delete_message(ctx: DomainContext, actor: Actor, message_id: str) -> None:
    """The sender, the conversation's owner or a company admin may delete. Deleting twice
    is not an error: the message is gone either way."""
    async with ctx.transaction() as tx:
        row = await message_for_member(tx.conn, actor, message_id)
        if row["deleted_at"] is not None:
            return
        if row["sender_id"] != actor.user_id and not actor.is_admin:
            conversation = await conversation_for_member(tx.conn, actor, row["conversation_id"])
            if conversation.my_role != "owner":
                raise Forbidden(
                    "only the sender, the conversation's owner or an admin may delete it",
                    code="not_sender",
                )
        erased = await erase_message(tx, message_id, deleted_by=actor.user_id)
    if erased is not None:
        await purge_soon(ctx, erased.attachment_ids)
