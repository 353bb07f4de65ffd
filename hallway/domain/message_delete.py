"""Deleting a message: its place in history stays, its content and history of edits go."""

from __future__ import annotations

from sqlalchemy import delete, update

from hallway.domain.access import conversation_for_member, message_for_member
from hallway.domain.actor import Actor
from hallway.domain.attachment_cleanup import mark_message_attachments, purge_soon
from hallway.domain.context import DomainContext
from hallway.domain.errors import Forbidden
from hallway.domain.events import append_event
from hallway.store.tables import message_edits, messages, reactions


async def delete_message(ctx: DomainContext, actor: Actor, message_id: str) -> None:
    """The sender, the conversation's owner or a company admin may delete. Deleting twice
    is not an error: the message is gone either way."""
    async with ctx.transaction() as tx:
        row = await message_for_member(tx.conn, actor, message_id)
        if row.deleted_at is not None:
            return
        if row.sender_id != actor.user_id and not actor.is_admin:
            conversation = await conversation_for_member(tx.conn, actor, row.conversation_id)
            if conversation.my_role != "owner":
                raise Forbidden(
                    "only the sender, the conversation's owner or an admin may delete it",
                    code="not_sender",
                )
        await tx.conn.execute(
            update(messages)
            .where(messages.c.id == message_id)
            .values(body="", deleted_at=tx.now, deleted_by=actor.user_id)
        )
        await tx.conn.execute(delete(message_edits).where(message_edits.c.message_id == message_id))
        await tx.conn.execute(delete(reactions).where(reactions.c.message_id == message_id))
        files = await mark_message_attachments(tx, message_id)
        await append_event(
            tx,
            row.conversation_id,
            "message.deleted",
            {"id": message_id, "deleted_at": tx.now, "deleted_by": actor.user_id},
            message_id=message_id,
        )
    await purge_soon(ctx, files)
