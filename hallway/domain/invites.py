"""Invites: codes an admin hands out to let people join the company as members. A code
expires (`invite_ttl_seconds` by default, or sooner), may be limited to a number of uses,
and can be revoked; admins list the ones still good."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, select, update

from hallway.domain.access import require_admin
from hallway.domain.actor import Actor
from hallway.domain.context import DomainContext, Transaction
from hallway.domain.errors import InvalidInput, NotFound
from hallway.store.database import Connection
from hallway.store.tables import companies, invites
from hallway.store.types import AnyRow, utcnow

MAX_USES = 1000


def _invite_dict(row: AnyRow) -> dict[str, Any]:
    return {
        "code": row.code,
        "expires_at": row.expires_at,
        "max_uses": row.max_uses,
        "uses": row.uses,
        "created_at": row.created_at,
        "created_by": row.created_by,
    }


async def create_invite(
    ctx: DomainContext, actor: Actor, *, max_uses: int | None, expires_in: int | None
) -> dict[str, Any]:
    """A code for up to `max_uses` people (None: any number), good for `expires_in` seconds
    (at most, and by default, `invite_ttl_seconds`)."""
    require_admin(actor)
    ttl = ctx.settings.invite_ttl_seconds
    if max_uses is not None and not 1 <= max_uses <= MAX_USES:
        raise InvalidInput(f"max_uses must be 1..{MAX_USES}", field="max_uses")
    if expires_in is not None and not 60 <= expires_in <= ttl:
        raise InvalidInput(f"expires_in must be 60..{ttl} seconds", field="expires_in")
    code = secrets.token_urlsafe(24)
    async with ctx.transaction() as tx:
        await tx.conn.execute(
            invites.insert().values(
                code=code,
                company_id=actor.company_id,
                created_by=actor.user_id,
                created_at=tx.now,
                expires_at=tx.now + timedelta(seconds=expires_in or ttl),
                max_uses=max_uses,
                uses=0,
            )
        )
        row = (await tx.conn.execute(select(invites).where(invites.c.code == code))).one()
    return _invite_dict(row)


async def list_invites(ctx: DomainContext, actor: Actor) -> list[dict[str, Any]]:
    """The company's invites that can still be used, the newest first."""
    require_admin(actor)
    async with ctx.db.read() as conn:
        rows = await conn.execute(
            select(invites)
            .where(
                invites.c.company_id == actor.company_id,
                invites.c.revoked_at.is_(None),
                invites.c.expires_at > utcnow(),
                (invites.c.max_uses.is_(None)) | (invites.c.uses < invites.c.max_uses),
            )
            .order_by(invites.c.created_at.desc(), invites.c.code)
        )
        return [_invite_dict(r) for r in rows]


async def revoke_invite(ctx: DomainContext, actor: Actor, code: str) -> None:
    """Nobody joins with it from now on (people who joined stay). Revoking twice is fine."""
    require_admin(actor)
    async with ctx.transaction() as tx:
        found = await tx.conn.execute(
            update(invites)
            .where(invites.c.code == code, invites.c.company_id == actor.company_id)
            .values(revoked_at=tx.now)
        )
        if not found.rowcount:
            raise NotFound("invite not found")


def _good(code: str, now: datetime) -> ColumnElement[bool]:
    """An invite someone may still join with."""
    return and_(
        invites.c.code == code,
        invites.c.revoked_at.is_(None),
        invites.c.expires_at > now,
        (invites.c.max_uses.is_(None)) | (invites.c.uses < invites.c.max_uses),
    )


def _unusable() -> InvalidInput:
    return InvalidInput(
        "the invite code is unknown, used up, revoked or expired",
        code="invalid_invite",
        field="invite_code",
    )


async def invite_company(conn: Connection, code: str, now: datetime) -> tuple[str, str]:
    """The id and name of the company a good invite is for; it is not used up by asking."""
    rows = await conn.execute(
        select(companies.c.id, companies.c.name)
        .select_from(invites.join(companies, companies.c.id == invites.c.company_id))
        .where(_good(code, now))
    )
    company = rows.first()
    if company is None:
        raise _unusable()
    return str(company.id), str(company.name)


async def redeem_invite(tx: Transaction, code: str) -> str:
    """Count one use of a good invite in the caller's transaction; its company. The count
    and the check are one statement, so a last use is never handed out twice."""
    rows = await tx.conn.execute(
        update(invites)
        .where(_good(code, tx.now))
        .values(uses=invites.c.uses + 1)
        .returning(invites.c.company_id)
    )
    company = rows.first()
    if company is None:
        raise _unusable()
    return str(company.company_id)
