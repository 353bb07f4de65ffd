"""One-time links sent by mail (a password reset, finishing a sign-up): a random token in the
link, only its hash kept, spent once before it expires."""

from __future__ import annotations

from sqlalchemy import Table, update

from hallway.domain.context import Transaction
from hallway.domain.errors import InvalidInput
from hallway.domain.sessions import stored_hash
from hallway.store.types import AnyRow

MAX_TOKEN_CHARS = 100


async def spend_link(tx: Transaction, table: Table, token: str, unusable: InvalidInput) -> AnyRow:
    """Mark the link's row of `table` (token_hash, used_at, expires_at) used in the caller's
    transaction and answer it; `unusable` when it is unknown, used or expired. The check and
    the mark are one statement, so a link is never spent twice."""
    if not 1 <= len(token) <= MAX_TOKEN_CHARS:
        raise unusable
    used = await tx.conn.execute(
        update(table)
        .where(
            table.c.token_hash == stored_hash(token),
            table.c.used_at.is_(None),
            table.c.expires_at > tx.now,
        )
        .values(used_at=tx.now)
        .returning(*table.c)
    )
    row = used.first()
    if row is None:
        raise unusable
    return row
