"""import_keys: which row each imported record became, so an import runs again harmlessly

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 14:40:00.000000

`hallway import slack` (hallway/slack_import) keys every person, conversation and message
it writes on its Slack id here; a second run finds them and writes nothing twice.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_keys",
        sa.Column("company_id", sa.String(length=36), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("local_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_import_keys_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "company_id", "source", "kind", "scope", "external_id", name=op.f("pk_import_keys")
        ),
    )
    op.create_index(
        "ix_import_keys_external", "import_keys", ["source", "kind", "external_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_import_keys_external", table_name="import_keys")
    op.drop_table("import_keys")
