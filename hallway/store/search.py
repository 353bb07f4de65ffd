"""Full-text matching of message bodies, one way per backend (migration 0003 builds both).

The caller hands over words already reduced to letters and digits, so no user text ever
reaches FTS5's or PostgreSQL's query syntax: each word is quoted as a literal anyway. Words
are ANDed; the last one may match as a prefix.

Newest first: PostgreSQL orders by (created_at, id) over ix_messages_created, SQLite by
rowid, the order in which messages were inserted (one writer at a time, rows never move:
messages are only ever deleted with their conversation). FTS5 hands out matches in rowid
order at no cost, while sorting them by created_at meant reading every match: 1.7 s for a
word in 10 % of 1,000,000 messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Integer, column, func, literal_column, table, tuple_
from sqlalchemy.dialects.postgresql import TSVECTOR

from hallway.store.tables import messages
from hallway.store.types import AnySelect

# Not in tables.metadata: these exist on one backend each (see tables.py).
_fts = table("message_search", column("rowid", Integer))
_search_vector = literal_column("messages.search_vector", TSVECTOR)
MESSAGE_ROWID = literal_column("messages.rowid", Integer)


def fts5_query(words: Sequence[str], *, prefix_last: bool) -> str:
    """`"w1" "w2" "w3"*`: quoted strings, implicitly ANDed."""
    quoted = ['"' + w.replace('"', '""') + '"' for w in words]
    if prefix_last:
        quoted[-1] += "*"
    return " ".join(quoted)


def tsquery_text(words: Sequence[str], *, prefix_last: bool) -> str:
    """`'w1' & 'w2' & 'w3':*` for to_tsquery: quoted lexemes, ANDed."""
    quoted = ["'" + w.replace("\\", "\\\\").replace("'", "''") + "'" for w in words]
    if prefix_last:
        quoted[-1] += ":*"
    return " & ".join(quoted)


def sqlite_matches(query: AnySelect, words: Sequence[str], *, prefix_last: bool) -> AnySelect:
    """`query` (over messages) narrowed to matching messages, newest first."""
    match = literal_column("message_search").op("MATCH")(fts5_query(words, prefix_last=prefix_last))
    return (
        query.select_from(messages.join(_fts, _fts.c.rowid == MESSAGE_ROWID))
        .where(match)
        .order_by(_fts.c.rowid.desc())
    )


def sqlite_after(query: AnySelect, rowid: int) -> AnySelect:
    return query.where(_fts.c.rowid < rowid)


def postgresql_matches(query: AnySelect, words: Sequence[str], *, prefix_last: bool) -> AnySelect:
    tsquery = func.to_tsquery(
        literal_column("'simple'::regconfig"), tsquery_text(words, prefix_last=prefix_last)
    )
    return query.where(_search_vector.op("@@")(tsquery)).order_by(
        messages.c.created_at.desc(), messages.c.id.desc()
    )


def postgresql_after(query: AnySelect, at: datetime, message_id: str) -> AnySelect:
    return query.where(tuple_(messages.c.created_at, messages.c.id) < tuple_(at, message_id))
