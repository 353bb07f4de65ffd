"""Attachments: binding uploaded files to the message that sends them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from hallway.domain.actor import Actor
from hallway.domain.context import Transaction
from hallway.domain.errors import InvalidInput
from hallway.domain.message_views import attachment_dict
from hallway.store.tables import attachments


async def claim_attachments(
    tx: Transaction,
    actor: Actor,
    conversation_id: str,
    message_id: str,
    attachment_ids: list[str],
    max_files: int,
) -> list[dict[str, Any]]:
    """Attach the actor's unsent uploads in this conversation to a new message."""
    if not attachment_ids:
        return []
    wanted = list(dict.fromkeys(attachment_ids))
    if len(wanted) > max_files:
        raise InvalidInput(f"a message may carry at most {max_files} files", field="attachment_ids")
    # One conditional UPDATE: on PostgreSQL it re-checks each row once it holds the row's
    # lock, so an upload the orphan sweeper marked meanwhile is never taken.
    claimed = await tx.conn.execute(
        update(attachments)
        .where(
            attachments.c.id.in_(wanted),
            attachments.c.conversation_id == conversation_id,
            attachments.c.uploader_id == actor.user_id,
            attachments.c.message_id.is_(None),
            attachments.c.deleted_at.is_(None),
        )
        .values(message_id=message_id)
        .returning(*attachments.c)
    )
    by_id = {r.id: r for r in claimed}
    if len(by_id) != len(wanted):
        raise InvalidInput(
            "some attachments are unknown, already sent, or not yours to send here",
            code="invalid_attachments",
            field="attachment_ids",
            attachment_ids=sorted(set(wanted) - set(by_id)),
        )
    return [attachment_dict(by_id[i]) for i in wanted]
