"""Retention: a conversation's own policy, and whether a company archives what expires

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 14:40:00.000000

`companies.retention_days` (since 0001) is the company's policy: NULL keeps everything.
`conversations.retention_days` overrides it for one conversation: NULL follows the
company, 0 keeps everything, N keeps N days (hallway/domain/retention_policy.py).
`companies.archive_expired`: expired messages are archived before they are erased.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("conversations", sa.Column("retention_days", sa.Integer(), nullable=True))
    op.add_column(
        "companies",
        sa.Column("archive_expired", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("companies", "archive_expired")
    op.drop_column("conversations", "retention_days")
