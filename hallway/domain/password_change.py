"""Changing one's own password: it takes the current one, and ends every other session."""

from __future__ import annotations

from sqlalchemy import select, update

from hallway.domain.accounts import check_password
from hallway.domain.actor import Actor
from hallway.domain.context import DomainContext
from hallway.domain.errors import Conflict, Unauthenticated
from hallway.domain.passwords import hash_password, password_hasher, verify_password
from hallway.domain.rate_limits import hashed
from hallway.domain.sessions import revoke_sessions, sessions_ended
from hallway.store.tables import users


async def confirm_password(ctx: DomainContext, actor: Actor, password: str) -> None:
    """The actor's own current password, asked before a change only its owner should
    make; 409 `no_password` for an account without one (an identity provider's).

    Wrong guesses count against the same per-account limit as the login's: whoever holds a
    stolen session guesses no faster here than at the login form."""
    async with ctx.db.read() as conn:
        row = (
            await conn.execute(
                select(users.c.email, users.c.password_hash).where(users.c.id == actor.user_id)
            )
        ).one()
    if row.password_hash is None:
        raise Conflict(
            "this account signs in through the company's identity provider",
            code="no_password",
        )
    limits = ctx.rate_limits
    attempt = await limits.take((limits.login_account, hashed(row.email)))
    if not await verify_password(password_hasher(ctx.settings), row.password_hash, password):
        raise Unauthenticated("the current password is wrong", code="invalid_credentials")
    await limits.give_back(attempt)


async def change_password(
    ctx: DomainContext, actor: Actor, *, current_password: str, new_password: str
) -> None:
    check_password(new_password, field="new_password")
    await confirm_password(ctx, actor, current_password)
    new_hash = await hash_password(password_hasher(ctx.settings), new_password)
    async with ctx.transaction() as tx:
        await tx.conn.execute(
            update(users).where(users.c.id == actor.user_id).values(password_hash=new_hash)
        )
        ended = await revoke_sessions(ctx, tx, actor.user_id, keep=actor.session_id)
    if ended:
        await sessions_ended(ctx, actor.user_id, ended)
