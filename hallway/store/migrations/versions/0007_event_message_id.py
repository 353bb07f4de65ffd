"""events.message_id: deleting a message erases it from the event log too

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 10:00:00.000000

`events.message_id` (indexed) names the message an event is about: `id` of the payload of
message.created / .edited / .deleted, `message_id` of reaction.added / .removed, NULL for
every other kind. Erasing a message (hallway/domain/erasure.py) finds its events by it and
replaces their payloads with tombstones. `messages.deleted_by` is who deleted the message,
which history now shows with `deleted_at`.

Existing rows are filled in from the payloads (an UPDATE of every event of a message: on a
long log this takes a while), and messages deleted before this revision are erased the way
a delete now erases: their events become tombstones (docs/api.md, "Deleted messages") and
their `edited_at` goes; their bodies, edits and reactions were already gone. The downgrade
drops both columns; the tombstones stay (the text is gone).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from hallway.store.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_MESSAGE_KINDS = ("message.created", "message.edited", "message.deleted")
_REACTION_KINDS = ("reaction.added", "reaction.removed")
# What a deleted message's message.created keeps: what history shows of a deleted message.
_KEPT_OF_CREATED = (
    "id",
    "conversation_id",
    "seq",
    "sender_id",
    "client_msg_id",
    "thread_root_id",
    "created_at",
)

# The tables as this revision leaves them (not hallway.store.tables, which moves on).
_events = sa.table(
    "events",
    sa.column("conversation_id", sa.String),
    sa.column("seq", sa.BigInteger),
    sa.column("kind", sa.String),
    sa.column("payload", sa.JSON),
    sa.column("message_id", sa.String),
)
_messages = sa.table(
    "messages",
    sa.column("id", sa.String),
    sa.column("edited_at", UTCDateTime),
    sa.column("deleted_at", UTCDateTime),
    sa.column("deleted_by", sa.String),
)


def _payload_text(key: str) -> str:
    """SQL: the text of the payload's top-level `key`."""
    if op.get_bind().dialect.name == "sqlite":
        return f"json_extract(payload, '$.{key}')"
    return f"payload->>'{key}'"


def _kinds(kinds: tuple[str, ...]) -> str:
    return ", ".join(f"'{kind}'" for kind in kinds)


def _fill_message_ids() -> None:
    for kinds, key in ((_MESSAGE_KINDS, "id"), (_REACTION_KINDS, "message_id")):
        op.execute(
            f"UPDATE events SET message_id = {_payload_text(key)} WHERE kind IN ({_kinds(kinds)})"
        )


def _tombstones(created: dict[str, Any], gone: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each erased kind's payload, for a message whose created payload is `created`;
    `gone` is {deleted_at, deleted_by}."""
    message_id = created["id"]
    return {
        "message.created": {
            **{key: created.get(key) for key in _KEPT_OF_CREATED},
            "body": "",
            "edited_at": None,
            **gone,
            "attachments": [],
            "reactions": [],
        },
        "message.edited": {"id": message_id, **gone},
        "reaction.added": {"message_id": message_id, **gone},
        "reaction.removed": {"message_id": message_id, **gone},
    }


def _erase(conn: sa.Connection, message_id: str, deleted_at: Any) -> None:
    deleted = (
        _events.c.message_id == message_id,
        _events.c.kind == "message.deleted",
    )
    deleted_payload = conn.execute(sa.select(_events.c.payload).where(*deleted)).scalar()
    deleted_by = (deleted_payload or {}).get("deleted_by")
    conn.execute(
        sa.update(_messages)
        .where(_messages.c.id == message_id)
        .values(edited_at=None, deleted_by=deleted_by)
    )
    of_message = _events.c.message_id == message_id
    created = conn.execute(
        sa.select(_events.c.payload).where(of_message, _events.c.kind == "message.created")
    ).scalar()
    if created is None:
        return
    gone = {"deleted_at": deleted_at, "deleted_by": deleted_by}
    for kind, payload in _tombstones(created, gone).items():
        conn.execute(
            sa.update(_events).where(of_message, _events.c.kind == kind).values(payload=payload)
        )


def _erase_deleted_messages() -> None:
    conn = op.get_bind()
    deleted = conn.execute(
        sa.select(_messages.c.id, _messages.c.deleted_at).where(_messages.c.deleted_at.is_not(None))
    ).all()
    for message_id, deleted_at in deleted:
        _erase(conn, message_id, deleted_at)


def upgrade() -> None:
    op.add_column("events", sa.Column("message_id", sa.String(36), nullable=True))
    op.add_column("messages", sa.Column("deleted_by", sa.String(36), nullable=True))
    _fill_message_ids()
    op.create_index("ix_events_message", "events", ["message_id"])
    _erase_deleted_messages()


def downgrade() -> None:
    op.drop_index("ix_events_message", "events")
    # Plain ALTER TABLE … DROP COLUMN, as in 0004 (SQLite 3.35+).
    op.drop_column("messages", "deleted_by")
    op.drop_column("events", "message_id")
