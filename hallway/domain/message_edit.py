"""Editing a message (sender only), keeping every earlier body in message_edits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from hallway.domain.access import message_for_member, require_not_archived
from hallway.domain.actor import Actor
from hallway.domain.context import DomainContext
from hallway.domain.errors import Conflict, Forbidden
from hallway.domain.events import append_event
from hallway.domain.mentions import store_mentions
from hallway.domain.message_format import render_body_off_loop
from hallway.domain.message_send import clean_body
from hallway.domain.message_views import message_views
from hallway.store.message_log import MESSAGE_COLUMNS
from hallway.store.tables import attachments, message_edits, messages


async def edit_message(
    ctx: DomainContext, actor: Actor, message_id: str, *, body: str
) -> dict[str, Any]:
    await ctx.rate_limits.hit(ctx.rate_limits.edit, actor.user_id)
    clean_body(ctx, body, has_files=True)  # its length, before rendering; emptiness below
    body_html = await render_body_off_loop(body)
    async with ctx.transaction() as tx:
        row = await message_for_member(tx.conn, actor, message_id)
        if row["sender_id"] != actor.user_id:
            raise Forbidden("only the sender may edit a message", code="not_sender")
        if row["deleted_at"] is not None:
            raise Conflict("the message was deleted", code="message_deleted")
        await require_not_archived(tx.conn, row["conversation_id"])
        has_files = (
            await tx.conn.execute(
                select(attachments.c.id).where(attachments.c.message_id == message_id).limit(1)
            )
        ).first() is not None
        body = clean_body(ctx, body, has_files=has_files)
        if body != row["body"]:
            # Only a message still not deleted: on PostgreSQL a deletion that committed
            # since the read above (or waits to) would otherwise get its text back.
            changed = await tx.conn.execute(
                update(messages)
                .where(messages.c.id == message_id, messages.c.deleted_at.is_(None))
                .values(body=body, body_html=body_html, edited_at=tx.now)
            )
            if not changed.rowcount:
                raise Conflict("the message was deleted", code="message_deleted")
            await tx.conn.execute(
                message_edits.insert().values(
                    message_id=message_id,
                    old_body=row["body"],
                    edited_by=actor.user_id,
                    edited_at=tx.now,
                )
            )
            # Mentions are resolved again, against the members of now.
            mentioned = await store_mentions(
                tx.conn, {**row, "body": body}, actor.company_id, tx.now, replace=True
            )
            await append_event(
                tx,
                row["conversation_id"],
                "message.edited",
                {
                    "id": message_id,
                    "body": body,
                    "body_html": body_html,
                    "edited_at": tx.now,
                    "edited_by": actor.user_id,
                    **mentioned.fields(),
                },
                message_id=message_id,
            )
        fresh = (
            (await tx.conn.execute(select(*MESSAGE_COLUMNS).where(messages.c.id == message_id)))
            .mappings()
            .one()
        )
        links = ctx.links
        return (await message_views(tx.conn, actor, [fresh], links))[0]


async def list_edits(ctx: DomainContext, actor: Actor, message_id: str) -> list[dict[str, Any]]:
    """Earlier bodies of a message, oldest first (empty once the message is deleted)."""
    async with ctx.db.read() as conn:
        await message_for_member(conn, actor, message_id)
        rows = await conn.execute(
            select(message_edits)
            .where(message_edits.c.message_id == message_id)
            .order_by(message_edits.c.edited_at, message_edits.c.id)
        )
        return [
            {"old_body": r.old_body, "edited_by": r.edited_by, "edited_at": r.edited_at}
            for r in rows
        ]
