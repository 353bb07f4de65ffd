"""Sending a message: idempotent by client_msg_id, logged as `message.created`."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from hallway.domain.access import conversation_for_member
from hallway.domain.actor import Actor
from hallway.domain.attachment_links import message_with_links
from hallway.domain.attachments import claim_attachments
from hallway.domain.context import DomainContext
from hallway.domain.errors import InvalidInput
from hallway.domain.events import allocate_seq, log_event
from hallway.domain.message_views import MESSAGE_COLUMNS, message_views
from hallway.files.links import FileLinks
from hallway.store.tables import messages

_INSERT_MESSAGE = messages.insert()
_CLIENT_MSG_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def clean_body(ctx: DomainContext, body: str, *, has_files: bool) -> str:
    if len(body) > ctx.settings.max_body_chars:
        raise InvalidInput(
            f"the message may have at most {ctx.settings.max_body_chars} characters",
            code="body_too_long",
            field="body",
        )
    if not body.strip() and not has_files:
        raise InvalidInput("the message is empty", code="empty_body", field="body")
    return body


async def _existing(
    conn: AsyncConnection,
    actor: Actor,
    conversation_id: str,
    client_msg_id: str,
    links: FileLinks,
) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(*MESSAGE_COLUMNS).where(
                messages.c.conversation_id == conversation_id,
                messages.c.sender_id == actor.user_id,
                messages.c.client_msg_id == client_msg_id,
            )
        )
    ).first()
    if row is None:
        return None
    return (await message_views(conn, actor, [row], links))[0]


async def _thread_root(conn: AsyncConnection, conversation_id: str, root_id: str) -> str:
    """Threads are one level deep: replying to a reply joins the reply's thread."""
    row = (
        await conn.execute(
            select(messages.c.id, messages.c.thread_root_id).where(
                messages.c.id == root_id, messages.c.conversation_id == conversation_id
            )
        )
    ).first()
    if row is None:
        raise InvalidInput(
            "the thread root is not a message of this conversation", field="thread_root_id"
        )
    return str(row.thread_root_id or row.id)


async def send_message(
    ctx: DomainContext,
    actor: Actor,
    conversation_id: str,
    *,
    body: str,
    client_msg_id: str | None = None,
    attachment_ids: list[str] | None = None,
    thread_root_id: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Returns (message, created). A repeated client_msg_id returns the original message."""
    attachment_ids = attachment_ids or []
    links = ctx.links
    body = clean_body(ctx, body, has_files=bool(attachment_ids))
    if client_msg_id is not None and not _CLIENT_MSG_ID.match(client_msg_id):
        raise InvalidInput(
            "client_msg_id must be 1..64 letters, digits or . _ : -", field="client_msg_id"
        )
    try:
        async with ctx.transaction() as tx:
            await conversation_for_member(tx.conn, actor, conversation_id)
            if client_msg_id is not None:
                existing = await _existing(tx.conn, actor, conversation_id, client_msg_id, links)
                if existing is not None:
                    return existing, False
            if thread_root_id is not None:
                thread_root_id = await _thread_root(tx.conn, conversation_id, thread_root_id)
            message_id = str(uuid.uuid4())
            # The message takes the seq of its own `message.created` event.
            seq = await allocate_seq(tx, conversation_id, activity=True)
            row = {
                "id": message_id,
                "conversation_id": conversation_id,
                "seq": seq,
                "sender_id": actor.user_id,
                "client_msg_id": client_msg_id,
                "body": body,
                "thread_root_id": thread_root_id,
                "created_at": tx.now,
                "edited_at": None,
                "deleted_at": None,
            }
            await tx.conn.execute(_INSERT_MESSAGE, row)
            files = await claim_attachments(
                tx,
                actor,
                conversation_id,
                message_id,
                attachment_ids,
                ctx.settings.max_files_per_message,
            )
            message = {**row, "attachments": files, "reactions": []}
            await log_event(tx, conversation_id, seq, "message.created", message)
            return message_with_links(links, message), True
    except IntegrityError:
        # The same client_msg_id raced in from another request and won; return its message.
        if client_msg_id is None:
            raise
        async with ctx.db.read() as conn:
            existing = await _existing(conn, actor, conversation_id, client_msg_id, links)
        if existing is None:
            raise
        return existing, False
