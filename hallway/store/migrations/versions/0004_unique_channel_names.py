"""unique channel names: one channel of a name per company, ignoring case

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 19:50:00.000000

`conversations.channel_key` is the channel's title case-folded (NFKC; up to 3x longer),
NULL for groups and direct conversations, with a unique index on (company_id,
channel_key). The key is made in Python (hallway.store.names) rather than with SQL's
lower(), which on SQLite only folds ASCII. Channels that already share a name keep the oldest one; the others become
"name (2)", "name (3)", … in order of creation.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hallway.store.names import channel_key

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("conversations", sa.Column("channel_key", sa.String(800), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT id, company_id, title FROM conversations "
            "WHERE kind = 'channel' ORDER BY created_at, id"
        )
    ).all()
    taken: set[tuple[str, str]] = set()
    for row in rows:
        title = row.title or "channel"
        candidate, n = title, 1
        while (row.company_id, channel_key(candidate)) in taken:
            n += 1
            candidate = f"{title[:190]} ({n})"
        taken.add((row.company_id, channel_key(candidate)))
        conn.execute(
            sa.text("UPDATE conversations SET title = :title, channel_key = :key WHERE id = :id"),
            {"title": candidate, "key": channel_key(candidate), "id": row.id},
        )
    # A unique index rather than a constraint: SQLite adds it without rebuilding the table.
    op.create_index(
        "uq_conversations_channel_key", "conversations", ["company_id", "channel_key"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_conversations_channel_key", "conversations")
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+): batch mode's rebuild of the table
    # failed on SQLite with "database table is locked".
    op.drop_column("conversations", "channel_key")
