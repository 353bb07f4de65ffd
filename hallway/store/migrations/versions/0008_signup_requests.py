"""signup_requests: a sign-up or join waits for its address to be confirmed

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 05:00:00.000000

Sign-up and join answer alike whether or not the address has an account
(docs/security.md, "Sign-up and join"): the request is kept here, hashed password and all,
and the person is created when the link mailed to the address is opened.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hallway.store.types import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signup_requests",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("company_name", sa.String(length=200), nullable=True),
        sa.Column("invite_code", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_signup_requests")),
    )
    with op.batch_alter_table("signup_requests", schema=None) as batch_op:
        batch_op.create_index("ix_signup_requests_expires", ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signup_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_signup_requests_expires")
    op.drop_table("signup_requests")
