"""sessions, deactivated people, invites that can be limited and revoked, password resets

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 03:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hallway.store.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("device", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("created_at", hallway.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", hallway.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", hallway.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("refresh_generation", sa.Integer(), nullable=False),
        sa.Column("refresh_hash", sa.String(length=64), nullable=False),
        sa.Column("revoked_at", hallway.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index("ix_sessions_user", ["user_id", "revoked_at"], unique=False)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "deactivated_at", hallway.store.types.UTCDateTime(timezone=True), nullable=True
            )
        )
    op.create_table(
        "password_resets",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=True),
        sa.Column("created_at", hallway.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", hallway.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", hallway.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_password_resets_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_password_resets_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_password_resets")),
    )
    with op.batch_alter_table("password_resets", schema=None) as batch_op:
        batch_op.create_index("ix_password_resets_user", ["user_id"], unique=False)
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_uses", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("uses", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("revoked_at", hallway.store.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index("ix_invites_company", ["company_id", "expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("password_resets", schema=None) as batch_op:
        batch_op.drop_index("ix_password_resets_user")
    op.drop_table("password_resets")
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.drop_index("ix_invites_company")
        batch_op.drop_column("revoked_at")
        batch_op.drop_column("uses")
        batch_op.drop_column("max_uses")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("deactivated_at")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_sessions_user")
    op.drop_table("sessions")
