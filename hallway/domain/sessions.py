"""Sessions: one per login, with its short-lived access tokens and a rotating refresh token.

A session ends when its person logs out, revokes it from another one, changes their
password (every other session), is deactivated or has their account deleted (all of
them), when its refresh token is used a second time (someone copied it), or when it goes
unrefreshed for `refresh_token_ttl_seconds`. From then on its access tokens are refused
(SessionStates) and its sockets are closed, on every process.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select, update

from hallway.domain.actor import Actor
from hallway.domain.context import DomainContext, Transaction
from hallway.domain.errors import NotFound, Unauthenticated
from hallway.domain.tokens import issue_access_token
from hallway.domain.user_views import user_dict
from hallway.store.database import Connection
from hallway.store.tables import sessions, users
from hallway.store.types import AnyRow, utcnow

MAX_DEVICE_CHARS = 200
MAX_ADDRESS_CHARS = 64


@dataclass(frozen=True)
class ClientInfo:
    """Where a login comes from, as the sessions list shows it."""

    device: str
    address: str

    @classmethod
    def of(cls, user_agent: str | None, address: str | None) -> ClientInfo:
        return cls(
            device=(user_agent or "unknown device")[:MAX_DEVICE_CHARS],
            address=(address or "unknown")[:MAX_ADDRESS_CHARS],
        )


@dataclass(frozen=True)
class Tokens:
    """What a login, sign-up, join or refresh answers."""

    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    user: dict[str, Any]


def stored_hash(secret: str) -> str:
    """What is kept of a bearer secret (a refresh token's, a reset link's): enough to
    recognise it, useless to present."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _refresh_token(session_id: str, generation: int) -> tuple[str, str]:
    """A new refresh token of this generation, and the hash the session keeps of it."""
    secret = secrets.token_urlsafe(32)
    return f"{session_id}.{generation}.{secret}", stored_hash(secret)


def _tokens(ctx: DomainContext, user: AnyRow, session_id: str, refresh_token: str) -> Tokens:
    actor = Actor(user.id, user.company_id, user.role, session_id)
    access_token, expires_in = issue_access_token(ctx.settings, actor)
    return Tokens(
        access_token=access_token,
        expires_in=expires_in,
        refresh_token=refresh_token,
        refresh_expires_in=ctx.settings.refresh_token_ttl_seconds,
        user=user_dict(user, ctx.links),
    )


async def start_session(
    ctx: DomainContext, tx: Transaction, user: AnyRow, client: ClientInfo
) -> Tokens:
    """A new session for this person, in the caller's transaction."""
    session_id = str(uuid.uuid4())
    refresh_token, refresh_hash = _refresh_token(session_id, 1)
    await tx.conn.execute(
        sessions.insert().values(
            id=session_id,
            user_id=user.id,
            device=client.device,
            address=client.address,
            created_at=tx.now,
            last_seen_at=tx.now,
            expires_at=tx.now + timedelta(seconds=ctx.settings.refresh_token_ttl_seconds),
            refresh_generation=1,
            refresh_hash=refresh_hash,
        )
    )
    return _tokens(ctx, user, session_id, refresh_token)


def _parse_refresh_token(token: str) -> tuple[str, int, str]:
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit() or len(parts[1]) > 9:
        raise Unauthenticated("the refresh token is not valid", code="invalid_refresh_token")
    return parts[0], int(parts[1]), parts[2]


async def refresh(ctx: DomainContext, refresh_token: str, client: ClientInfo) -> Tokens:
    """A fresh access token and the next refresh token; the one given is spent. A spent one
    given again means two holders: the session ends for both."""
    session_id, generation, secret = _parse_refresh_token(refresh_token)
    reused = False
    async with ctx.transaction() as tx:
        row = (
            await tx.conn.execute(
                select(
                    sessions,
                    users.c.company_id,
                    users.c.role,
                    users.c.deactivated_at,
                    users.c.deleted_at,
                )
                .join(users, users.c.id == sessions.c.user_id)
                .where(sessions.c.id == session_id)
                .with_for_update(of=sessions)
            )
        ).first()
        if row is None:
            raise Unauthenticated("the refresh token is not valid", code="invalid_refresh_token")
        if (
            row.revoked_at is not None
            or row.expires_at <= tx.now
            or row.deactivated_at
            or row.deleted_at
        ):
            raise Unauthenticated("the session has ended; log in again", code="session_revoked")
        if generation < row.refresh_generation:
            reused = True
            await _revoke(tx.conn, sessions.c.id == session_id, tx.now)
        elif generation != row.refresh_generation or not hmac.compare_digest(
            stored_hash(secret), row.refresh_hash
        ):
            raise Unauthenticated("the refresh token is not valid", code="invalid_refresh_token")
        else:
            next_token, next_hash = _refresh_token(session_id, generation + 1)
            await tx.conn.execute(
                update(sessions)
                .where(sessions.c.id == session_id)
                .values(
                    refresh_generation=generation + 1,
                    refresh_hash=next_hash,
                    last_seen_at=tx.now,
                    address=client.address,
                    expires_at=tx.now + timedelta(seconds=ctx.settings.refresh_token_ttl_seconds),
                )
            )
            user = (await tx.conn.execute(select(users).where(users.c.id == row.user_id))).one()
    if reused:
        await sessions_ended(ctx, row.user_id, [session_id])
        raise Unauthenticated(
            "that refresh token was already used; the session has ended", code="session_revoked"
        )
    return _tokens(ctx, user, session_id, next_token)


async def _revoke(conn: Connection, which: ColumnElement[bool], now: datetime) -> list[str]:
    """End the standing sessions that `which` selects; their ids."""
    rows = await conn.execute(
        update(sessions)
        .where(which, sessions.c.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(sessions.c.id)
    )
    return [r.id for r in rows]


async def sessions_ended(
    ctx: DomainContext, user_id: str, ended: Sequence[str], *, every_socket: bool = False
) -> None:
    """After the commit: forget the ended sessions here, and close their sockets (or, with
    every_socket, all of the person's, an identity provider's included) everywhere."""
    ctx.session_states.forget(list(ended))
    await ctx.publisher.sessions_ended(user_id, None if every_socket else ended)


async def revoke_sessions(
    ctx: DomainContext, tx: Transaction, user_id: str, *, keep: str | None = None
) -> list[str]:
    """End every session of this person but `keep`, in the caller's transaction; call
    `sessions_ended` with the answer once it commits."""
    which = sessions.c.user_id == user_id
    if keep is not None:
        which = which & (sessions.c.id != keep)
    return await _revoke(tx.conn, which, tx.now)


async def log_out(ctx: DomainContext, actor: Actor) -> None:
    """End the session the actor acts through."""
    if actor.session_id is None:
        return  # an identity provider's token: it has no session here to end
    await end_session(ctx, actor, actor.session_id)


async def end_session(ctx: DomainContext, actor: Actor, session_id: str) -> None:
    """End one of the actor's own sessions (another person's is not found)."""
    async with ctx.transaction() as tx:
        owned = (
            await tx.conn.execute(
                select(sessions.c.id).where(
                    sessions.c.id == session_id, sessions.c.user_id == actor.user_id
                )
            )
        ).first()
        if owned is None:
            raise NotFound("session not found")
        ended = await _revoke(tx.conn, sessions.c.id == session_id, tx.now)
    if ended:
        await sessions_ended(ctx, actor.user_id, ended)


async def end_all_sessions(ctx: DomainContext, actor: Actor) -> None:
    """Log out everywhere: every session of the actor, this one included."""
    async with ctx.transaction() as tx:
        ended = await revoke_sessions(ctx, tx, actor.user_id)
    if ended:
        await sessions_ended(ctx, actor.user_id, ended)


async def list_sessions(ctx: DomainContext, actor: Actor) -> list[dict[str, Any]]:
    """The actor's standing sessions, the most recently seen first."""
    async with ctx.db.read() as conn:
        rows = await conn.execute(
            select(sessions)
            .where(
                sessions.c.user_id == actor.user_id,
                sessions.c.revoked_at.is_(None),
                sessions.c.expires_at > utcnow(),
            )
            .order_by(sessions.c.last_seen_at.desc(), sessions.c.id)
        )
        return [
            {
                "id": r.id,
                "device": r.device,
                "address": r.address,
                "created_at": r.created_at,
                "last_seen_at": r.last_seen_at,
                "current": r.id == actor.session_id,
            }
            for r in rows
        ]
