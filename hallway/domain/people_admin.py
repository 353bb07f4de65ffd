"""An admin's hold over the people of their company: deactivate and reactivate, change a
role. A deactivated person cannot log in, refresh or keep a socket; their name stays on
what they wrote, marked as deactivated."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from hallway.domain.access import require_admin
from hallway.domain.actor import Actor, Role
from hallway.domain.context import DomainContext, Transaction
from hallway.domain.errors import Conflict, NotFound
from hallway.domain.sessions import revoke_sessions, sessions_ended
from hallway.domain.user_views import user_dict
from hallway.store.tables import sessions, users
from hallway.store.types import AnyRow

ROLES: tuple[Role, ...] = ("admin", "member")


async def locked_colleague(tx: Transaction, actor: Actor, user_id: str) -> AnyRow:
    """A person of the actor's company, locked for this change. A deleted account is no
    longer anyone to change: not found."""
    row = (
        await tx.conn.execute(
            select(users)
            .where(
                users.c.id == user_id,
                users.c.company_id == actor.company_id,
                users.c.deleted_at.is_(None),
            )
            .with_for_update()
        )
    ).first()
    if row is None:
        raise NotFound("person not found")
    return row


async def _other_active_admins(tx: Transaction, actor: Actor, user_id: str) -> int:
    return int(
        (
            await tx.conn.execute(
                select(func.count())
                .select_from(users)
                .where(
                    users.c.company_id == actor.company_id,
                    users.c.role == "admin",
                    users.c.deactivated_at.is_(None),
                    users.c.id != user_id,
                )
            )
        ).scalar_one()
    )


async def keep_an_admin(tx: Transaction, actor: Actor, person: AnyRow) -> None:
    """A company always keeps an active admin: the last one can't be demoted, deactivated
    or deleted."""
    if person.role == "admin" and not await _other_active_admins(tx, actor, person.id):
        raise Conflict("the company must keep an active admin", code="last_admin")


async def deactivate(ctx: DomainContext, actor: Actor, user_id: str) -> dict[str, Any]:
    require_admin(actor)
    async with ctx.transaction() as tx:
        person = await locked_colleague(tx, actor, user_id)
        if person.deactivated_at is not None:
            return user_dict(person, ctx.links)
        await keep_an_admin(tx, actor, person)
        await tx.conn.execute(
            update(users).where(users.c.id == user_id).values(deactivated_at=tx.now)
        )
        ended = await revoke_sessions(ctx, tx, user_id)
        person = (await tx.conn.execute(select(users).where(users.c.id == user_id))).one()
    await sessions_ended(ctx, user_id, ended, every_socket=True)
    return user_dict(person, ctx.links)


async def reactivate(ctx: DomainContext, actor: Actor, user_id: str) -> dict[str, Any]:
    """They may log in again (their old sessions stay ended)."""
    require_admin(actor)
    async with ctx.transaction() as tx:
        await locked_colleague(tx, actor, user_id)
        await tx.conn.execute(
            update(users).where(users.c.id == user_id).values(deactivated_at=None)
        )
        person = (await tx.conn.execute(select(users).where(users.c.id == user_id))).one()
    return user_dict(person, ctx.links)


async def change_role(ctx: DomainContext, actor: Actor, user_id: str, role: str) -> dict[str, Any]:
    require_admin(actor)
    if role not in ROLES:
        raise Conflict("a role is admin or member", code="invalid_role")
    async with ctx.transaction() as tx:
        person = await locked_colleague(tx, actor, user_id)
        if role != person.role:
            if role == "member":
                await keep_an_admin(tx, actor, person)
            await tx.conn.execute(update(users).where(users.c.id == user_id).values(role=role))
        standing = [
            r.id
            for r in await tx.conn.execute(
                select(sessions.c.id).where(
                    sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None)
                )
            )
        ]
        person = (await tx.conn.execute(select(users).where(users.c.id == user_id))).one()
    # Their next request reads the new role (other processes within SessionStates' moment).
    ctx.session_states.forget(standing)
    return user_dict(person, ctx.links)
