"""message search in batches: SQLite's index no longer grows inside each send

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 01:40:00.000000

SQLite only (PostgreSQL's index is a generated column and stays as it is). FTS5 writes a
new segment of its index at the end of every transaction that adds to it, which was about
half of a send's own SQLite work (docs/benchmarks.md). Now `message_search_progress` holds
`indexed_upto`: every message with a rowid up to it is in the index, and
hallway/store/search_index.py indexes the ones after it in batches, a few times a second
and before every search, so a search still finds every message sent before it. The
triggers only touch rows the index holds: an edit or a delete of a message not yet
indexed leaves the index alone (the batch indexes what is there by then). A new message
with a rowid the index already passed (SQLite hands out the highest rowid again once that
row is deleted) is indexed at once by the insert trigger.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_INDEXED = "(SELECT indexed_upto FROM message_search_progress)"
_TRIGGERS = ["message_search_insert", "message_search_delete", "message_search_update"]


def _create_triggers(guarded: bool) -> list[str]:
    """The three triggers of 0003; `guarded`, each touches only rows the index holds."""

    def when(row: str) -> str:
        return f"WHEN {row}.rowid <= {_INDEXED} " if guarded else ""

    add_new = "INSERT INTO message_search(rowid, body) VALUES (new.rowid, new.body);"
    # An external-content index forgets a row by being told exactly what it indexed.
    forget_old = (
        "INSERT INTO message_search(message_search, rowid, body) "
        "VALUES ('delete', old.rowid, old.body);"
    )
    return [
        f"CREATE TRIGGER message_search_insert AFTER INSERT ON messages {when('new')}"
        f"BEGIN {add_new} END",
        f"CREATE TRIGGER message_search_delete AFTER DELETE ON messages {when('old')}"
        f"BEGIN {forget_old} END",
        f"CREATE TRIGGER message_search_update AFTER UPDATE OF body ON messages {when('old')}"
        f"BEGIN {forget_old} {add_new} END",
    ]


_UPGRADE = [
    "CREATE TABLE message_search_progress ("
    "id INTEGER PRIMARY KEY CHECK (id = 1), indexed_upto INTEGER NOT NULL)",
    # Until now the triggers indexed every message as it came.
    "INSERT INTO message_search_progress VALUES (1, (SELECT coalesce(max(rowid), 0) FROM messages))",
    *(f"DROP TRIGGER {name}" for name in _TRIGGERS),
    *_create_triggers(guarded=True),
]

_DOWNGRADE = [
    *(f"DROP TRIGGER {name}" for name in _TRIGGERS),
    "INSERT INTO message_search(rowid, body) SELECT rowid, body FROM messages "
    f"WHERE rowid > {_INDEXED} ORDER BY rowid",
    "DROP TABLE message_search_progress",
    *_create_triggers(guarded=False),
]


def _run(statements: list[str]) -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in statements:
            op.execute(statement)


def upgrade() -> None:
    _run(_UPGRADE)


def downgrade() -> None:
    _run(_DOWNGRADE)
