"""Full-text matching of message bodies, one way per backend (migration 0003 builds both).

The caller hands over words already reduced to letters and digits, so no user text ever
reaches FTS5's or PostgreSQL's query syntax: each word is quoted as a literal anyway. Words
and phrases are ANDed; the last word may match as a prefix; a phrase's words must follow
one another.

Newest first: PostgreSQL orders by (created_at, id) over ix_messages_created, SQLite by
rowid, the order in which messages were inserted (one writer at a time, rows never move:
messages are only ever deleted with their conversation). FTS5 hands out matches in rowid
order at no cost, while sorting them by created_at meant reading every match, which took
seconds for a common word in a long history.
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


def fts5_query(words: Sequence[str], phrases: Sequence[Sequence[str]], *, prefix_last: bool) -> str:
    """`"w1" "w2"* "p1 p2"`: quoted strings, implicitly ANDed; a string of several words is
    a phrase."""
    quoted = ['"' + w.replace('"', '""') + '"' for w in words]
    if prefix_last:
        quoted[-1] += "*"
    quoted += ['"' + " ".join(w.replace('"', '""') for w in phrase) + '"' for phrase in phrases]
    return " ".join(quoted)


def tsquery_text(
    words: Sequence[str], phrases: Sequence[Sequence[str]], *, prefix_last: bool
) -> str:
    """`'w1' & 'w2':* & ('p1' <-> 'p2')` for to_tsquery: quoted lexemes, ANDed; a phrase's
    follow one another."""
    quoted = [_lexeme(w) for w in words]
    if prefix_last:
        quoted[-1] += ":*"
    quoted += ["(" + " <-> ".join(_lexeme(w) for w in phrase) + ")" for phrase in phrases]
    return " & ".join(quoted)


def _lexeme(word: str) -> str:
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def sqlite_matches(
    query: AnySelect, words: Sequence[str], phrases: Sequence[Sequence[str]], *, prefix_last: bool
) -> AnySelect:
    """`query` (over messages) narrowed to messages holding the text."""
    match = literal_column("message_search").op("MATCH")(
        fts5_query(words, phrases, prefix_last=prefix_last)
    )
    return query.select_from(messages.join(_fts, _fts.c.rowid == MESSAGE_ROWID)).where(match)


def sqlite_newest_first(query: AnySelect, after_rowid: int | None, *, matched: bool) -> AnySelect:
    """Newest first: in rowid order, the order in which messages were stored; resumed below
    `after_rowid`. `matched`: narrowed by `sqlite_matches`, whose index hands its matches out
    in its own rowid's order at no cost, while ordering by the message's rowid would read
    and sort every match."""
    rowid = _fts.c.rowid if matched else MESSAGE_ROWID
    if after_rowid is not None:
        query = query.where(rowid < after_rowid)
    return query.order_by(rowid.desc())


def postgresql_matches(
    query: AnySelect, words: Sequence[str], phrases: Sequence[Sequence[str]], *, prefix_last: bool
) -> AnySelect:
    tsquery = func.to_tsquery(
        literal_column("'simple'::regconfig"),
        tsquery_text(words, phrases, prefix_last=prefix_last),
    )
    return query.where(_search_vector.op("@@")(tsquery))


def postgresql_newest_first(query: AnySelect, after: tuple[datetime, str] | None) -> AnySelect:
    if after is not None:
        query = query.where(tuple_(messages.c.created_at, messages.c.id) < tuple_(*after))
    return query.order_by(messages.c.created_at.desc(), messages.c.id.desc())
