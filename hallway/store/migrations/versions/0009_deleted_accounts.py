"""users.deleted_at: a person's account can be deleted, leaving "former member" behind

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 05:10:00.000000

Set when the account was deleted (hallway/domain/account_deletion.py): the row stays, so
the messages it wrote keep a sender, but it holds nothing of the person any more.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hallway.store.types import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("deleted_at", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN, as in 0004 and 0007 (SQLite 3.35+). The deleted
    # accounts stay anonymised: their names, emails and passwords are gone either way.
    op.drop_column("users", "deleted_at")
