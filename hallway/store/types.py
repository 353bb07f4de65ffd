"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeAlias

from sqlalchemy import DateTime, Row, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

AnyRow: TypeAlias = Row[*tuple[Any, ...]]
"""A result row of any shape (SQLAlchemy 2.1 types rows by their column tuple)."""

AnySelect: TypeAlias = Select[*tuple[Any, ...]]
"""A SELECT of any columns, as the search clauses narrow it."""


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes; SQLite drops the offset, so it is restored on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """PostgreSQL's (SQLite binds through bind_processor's own function)."""
        return None if value is None else _in_utc(value)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """SQLite: one function per value instead of the decorator's chain (the method
        above, then SQLite's own formatting), which costs about twice as much. The text is
        the one SQLAlchemy's SQLite DATETIME writes, without the offset (as
        hallway.store.driver_sql writes it too)."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def as_text(value: datetime | None) -> str | None:
            if value is None:
                return None
            return _in_utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")

        return as_text

    def result_processor(
        self, dialect: Dialect, coltype: object
    ) -> Callable[[Any], datetime | None]:
        """One function per value instead of the decorator's chain (SQLite's parser, then
        the decorator's wrapper, then a `replace(tzinfo=...)`): a page of messages reads
        three of these a message."""
        if dialect.name == "sqlite":
            # SQLite keeps UTC as text without an offset ('2026-12-01 19:51:06.182574').
            def from_text(value: str | None) -> datetime | None:
                return None if value is None else datetime.fromisoformat(value + "+00:00")

            return from_text

        def in_utc(value: datetime | None) -> datetime | None:
            if value is None or value.tzinfo is UTC:
                return value
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

        return in_utc


def _in_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTCDateTime column")
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)
