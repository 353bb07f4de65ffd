"""Mentions and notification settings

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 17:40:00.000000

`mentions`: who a message mentions, resolved when it is sent or edited
(hallway/domain/mentions.py). `users.notify_level` and `users.dnd_until`: a person's
default notification level (all, mentions, nothing; 'mentions' by default) and "do not
disturb" until a time. `participants.notify_level` (NULL: the person's default) and
`participants.muted`: the member's own settings for one conversation. The levels are
checked by the domain (hallway/domain/notification_settings.py): a CHECK added to an
existing table would make SQLite copy the table.

On PostgreSQL `mentions` gets row-level security like messages (migration 0010): visible
and writable in the acting company, in a conversation the acting person takes part in.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hallway.store.types import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_COMPANY = "current_setting('hallway.company_id', true)"
_SYSTEM = "(current_setting('hallway.system', true) = 'on' AND hallway_rls_system_role())"
_MEMBER = f"company_id = {_COMPANY} AND hallway_rls_takes_part(conversation_id)"


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("notify_level", sa.String(length=16), nullable=False, server_default="mentions"),
    )
    op.add_column("users", sa.Column("dnd_until", UTCDateTime(timezone=True), nullable=True))
    op.add_column("participants", sa.Column("notify_level", sa.String(length=16), nullable=True))
    op.add_column(
        "participants",
        sa.Column("muted", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "mentions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("company_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('person', 'channel', 'here')", name=op.f("ck_mentions_kind")),
        sa.CheckConstraint(
            "(kind = 'person') = (user_id IS NOT NULL)", name=op.f("ck_mentions_person")
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_mentions_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_mentions_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_mentions_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_mentions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mentions")),
    )
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.create_index("ix_mentions_message", ["message_id"], unique=False)
        batch_op.create_index("ix_mentions_user", ["user_id", "created_at"], unique=False)
        batch_op.create_index("ix_mentions_conversation", ["conversation_id", "seq"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE POLICY hallway_acting ON mentions FOR ALL"
            f" USING ({_SYSTEM} OR {_MEMBER}) WITH CHECK ({_SYSTEM} OR {_MEMBER})"
        )
        op.execute("ALTER TABLE mentions ENABLE ROW LEVEL SECURITY")


def downgrade() -> None:
    # Dropping the table drops its policy with it.
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.drop_index("ix_mentions_conversation")
        batch_op.drop_index("ix_mentions_user")
        batch_op.drop_index("ix_mentions_message")
    op.drop_table("mentions")
    op.drop_column("participants", "muted")
    op.drop_column("participants", "notify_level")
    op.drop_column("users", "dnd_until")
    op.drop_column("users", "notify_level")
