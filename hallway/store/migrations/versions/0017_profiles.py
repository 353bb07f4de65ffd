"""Profiles, channel topics and archived channels

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 17:45:00.000000

`users`: a short status (`status_text`, `status_emoji`), an IANA `time_zone`, and an
avatar: `avatar_key` names its stored thumbnail (hallway.files.storage), `avatar_version`
counts uploads so that each one has a URL of its own.
`conversations`: a channel's `topic`, and `archived_at` / `archived_by` while it is
archived (read-only).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hallway.store.types import UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("status_text", sa.String(100), nullable=True))
    op.add_column("users", sa.Column("status_emoji", sa.String(64), nullable=True))
    op.add_column("users", sa.Column("time_zone", sa.String(64), nullable=True))
    op.add_column("users", sa.Column("avatar_key", sa.String(200), nullable=True))
    op.add_column(
        "users", sa.Column("avatar_version", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("conversations", sa.Column("topic", sa.String(250), nullable=True))
    op.add_column(
        "conversations", sa.Column("archived_at", UTCDateTime(timezone=True), nullable=True)
    )
    op.add_column("conversations", sa.Column("archived_by", sa.String(36), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN, as in 0009 (SQLite 3.35+).
    for column in ("archived_by", "archived_at", "topic"):
        op.drop_column("conversations", column)
    for column in ("avatar_version", "avatar_key", "time_zone", "status_emoji", "status_text"):
        op.drop_column("users", column)
