"""Messages keep their body rendered as HTML

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 17:40:00.000000

`messages.body_html`: the body as the Markdown subset's safe HTML
(hallway/domain/message_format.py), written with the body. Rows from before stay NULL and
readers render them as they read them (hallway/domain/message_views.py): the column is
added without touching a row, so the migration takes no time whatever the number of
messages, and NULL is also how a later change of the renderer reaches stored messages.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("body_html", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("messages", "body_html")
