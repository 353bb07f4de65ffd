"""threads: a root's reply count, last reply and repliers on its row; who follows threads

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 17:45:00.000000

`messages.reply_count`, `last_reply_at` and `reply_user_ids` summarise a thread on its
root's row (hallway/domain/threads.py keeps them in each reply's transaction); existing
threads are counted here. `thread_followers`: who follows which thread and how far they
have read it; the authors and repliers of existing threads follow them, everything read.
On PostgreSQL it has a row-level security policy like attachments' (migration 0010).
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

from hallway.store.types import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

MAX_REPLIERS = 5

_USER_COMPANY = "current_setting('hallway.company_id', true)"
_SYSTEM = "(current_setting('hallway.system', true) = 'on' AND hallway_rls_system_role())"
_VISIBLE = (
    f"({_SYSTEM} OR (company_id = {_USER_COMPANY} AND hallway_rls_takes_part(conversation_id)))"
)

_COUNTS = """
UPDATE messages SET
    reply_count = (SELECT count(*) FROM messages AS r
                   WHERE r.thread_root_id = messages.id AND r.deleted_at IS NULL),
    last_reply_at = (SELECT max(r.created_at) FROM messages AS r
                     WHERE r.thread_root_id = messages.id AND r.deleted_at IS NULL)
WHERE id IN (SELECT thread_root_id FROM messages WHERE thread_root_id IS NOT NULL)
"""

_REPLIERS = """
SELECT thread_root_id, sender_id, max(seq) AS newest FROM messages
WHERE thread_root_id IS NOT NULL AND deleted_at IS NULL AND sender_id IS NOT NULL
GROUP BY thread_root_id, sender_id
"""

_FOLLOWERS = """
INSERT INTO thread_followers (root_id, user_id, conversation_id, company_id, following,
                              last_read_seq, followed_at)
SELECT f.root_id, f.user_id, root.conversation_id, c.company_id, TRUE, t.last_seq, t.last_at
FROM (SELECT r.thread_root_id AS root_id, r.sender_id AS user_id FROM messages AS r
      WHERE r.thread_root_id IS NOT NULL AND r.sender_id IS NOT NULL
      UNION
      SELECT DISTINCT r.thread_root_id, root.sender_id FROM messages AS r
      JOIN messages AS root ON root.id = r.thread_root_id
      WHERE root.sender_id IS NOT NULL) AS f
JOIN messages AS root ON root.id = f.root_id
JOIN conversations AS c ON c.id = root.conversation_id
JOIN (SELECT thread_root_id, max(seq) AS last_seq, max(created_at) AS last_at FROM messages
      WHERE thread_root_id IS NOT NULL GROUP BY thread_root_id) AS t
  ON t.thread_root_id = f.root_id
"""


def upgrade() -> None:
    op.add_column(
        "messages", sa.Column("reply_count", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("messages", sa.Column("last_reply_at", UTCDateTime(), nullable=True))
    op.add_column(
        "messages",
        sa.Column("reply_user_ids", sa.String(length=200), nullable=False, server_default=""),
    )
    op.create_table(
        "thread_followers",
        sa.Column("root_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("company_id", sa.String(length=36), nullable=False),
        sa.Column("following", sa.Boolean(), nullable=False),
        sa.Column("last_read_seq", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("followed_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["root_id"],
            ["messages.id"],
            name=op.f("fk_thread_followers_root_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_thread_followers_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_thread_followers_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_thread_followers_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("root_id", "user_id", name=op.f("pk_thread_followers")),
    )
    op.create_index(
        "ix_thread_followers_user", "thread_followers", ["user_id", "following"], unique=False
    )
    bind = op.get_bind()
    bind.execute(sa.text(_COUNTS))
    repliers: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for row in bind.execute(sa.text(_REPLIERS)):
        repliers[row.thread_root_id].append((int(row.newest), row.sender_id))
    if repliers:
        bind.execute(
            sa.text("UPDATE messages SET reply_user_ids = :ids WHERE id = :root_id"),
            [
                {
                    "root_id": root_id,
                    "ids": " ".join(uid for _, uid in sorted(found, reverse=True)[:MAX_REPLIERS]),
                }
                for root_id, found in repliers.items()
            ],
        )
    bind.execute(sa.text(_FOLLOWERS))
    if bind.dialect.name == "postgresql":
        op.execute(
            f"CREATE POLICY hallway_acting ON thread_followers FOR ALL"
            f" USING {_VISIBLE} WITH CHECK {_VISIBLE}"
        )
        op.execute("ALTER TABLE thread_followers ENABLE ROW LEVEL SECURITY")


def downgrade() -> None:
    op.drop_index("ix_thread_followers_user", table_name="thread_followers")
    op.drop_table("thread_followers")
    op.drop_column("messages", "reply_user_ids")
    op.drop_column("messages", "last_reply_at")
    op.drop_column("messages", "reply_count")
