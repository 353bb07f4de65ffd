"""What a session's access tokens may do now: who, in which company, with which role, and
whether the session still stands. Read from the database, kept for a moment per process."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select

from hallway.domain.actor import Role
from hallway.store.database import Database
from hallway.store.tables import sessions, users
from hallway.store.types import utcnow

# A revocation reaches every process within this long even when nothing tells it: a state
# is read again once it is older. (A process that has the session's sockets is also told
# through the broker, and closes them at once.)
STATE_SECONDS = 1.0
_MAX_KNOWN = 50_000


@dataclass(frozen=True, slots=True)
class SessionState:
    user_id: str
    company_id: str
    role: Role


class SessionStates:
    """A per-process cache of standing sessions (None: ended, unknown, deactivated or
    deleted)."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[SessionState | None, float]] = {}

    async def get(self, db: Database, session_id: str) -> SessionState | None:
        now = time.monotonic()
        known = self._known.get(session_id)
        if known is not None and now - known[1] < STATE_SECONDS:
            return known[0]
        state = await _read(db, session_id)
        if len(self._known) >= _MAX_KNOWN:
            self._known.clear()
        self._known[session_id] = (state, now)
        return state

    def forget(self, session_ids: list[str]) -> None:
        for session_id in session_ids:
            self._known.pop(session_id, None)


async def _read(db: Database, session_id: str) -> SessionState | None:
    async with db.read() as conn:
        row = (
            await conn.execute(
                select(users.c.id, users.c.company_id, users.c.role)
                .join(sessions, sessions.c.user_id == users.c.id)
                .where(
                    sessions.c.id == session_id,
                    sessions.c.revoked_at.is_(None),
                    sessions.c.expires_at > utcnow(),
                    users.c.deactivated_at.is_(None),
                    users.c.deleted_at.is_(None),
                )
            )
        ).first()
    return None if row is None else SessionState(row.id, row.company_id, row.role)
