"""Signup, login, invites and joining a company; the company directory."""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hallway.domain.access import require_admin
from hallway.domain.actor import Actor, Role
from hallway.domain.context import DomainContext
from hallway.domain.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from hallway.domain.passwords import hash_password, password_hasher, verify_password
from hallway.domain.rate_limits import Limit, hashed
from hallway.domain.tokens import issue_access_token
from hallway.store.database import Connection
from hallway.store.tables import companies, invites, users
from hallway.store.types import AnyRow

MIN_PASSWORD_LENGTH = 8
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Session:
    access_token: str
    expires_in: int
    user: dict[str, Any]


def user_dict(row: AnyRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "email": row.email,
        "display_name": row.display_name,
        "company_id": row.company_id,
        "role": row.role,
    }


def clean_email(email: str) -> str:
    """Emails are compared case-insensitively, so they are stored lower-cased."""
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 320:
        raise InvalidInput("that is not an email address", code="invalid_email", field="email")
    return email


def clean_display_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise InvalidInput("the display name must be 1..100 characters", field="display_name")
    return name


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"the password must be at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )


def _session(ctx: DomainContext, row: AnyRow) -> Session:
    actor = Actor(user_id=row.id, company_id=row.company_id, role=row.role)
    token, ttl = issue_access_token(ctx.settings, actor)
    return Session(access_token=token, expires_in=ttl, user=user_dict(row))


async def _insert_user(
    conn: Connection,
    *,
    company_id: str,
    email: str,
    display_name: str,
    password_hash: str | None,
    role: Role,
    external_id: str | None,
    now: datetime,
) -> AnyRow:
    user_id = str(uuid.uuid4())
    try:
        async with conn.begin_nested():
            await conn.execute(
                users.insert().values(
                    id=user_id,
                    company_id=company_id,
                    email=email,
                    display_name=display_name,
                    password_hash=password_hash,
                    role=role,
                    external_id=external_id,
                    created_at=now,
                )
            )
    except IntegrityError as exc:
        taken = "external_id" if "external_id" in str(exc.orig) else "email"
        raise Conflict(
            f"that {taken.replace('_', ' ')} is already registered",
            code=f"{taken}_taken",
            field=taken,
        ) from exc
    return (await conn.execute(select(users).where(users.c.id == user_id))).one()


async def _limit_address(ctx: DomainContext, limit: Limit, client_address: str | None) -> None:
    # Before anything else: a refused request costs no password hash.
    if client_address is not None:
        await ctx.rate_limits.hit(limit, client_address)


async def signup(
    ctx: DomainContext,
    *,
    company_name: str,
    email: str,
    password: str,
    display_name: str,
    client_address: str | None = None,
) -> Session:
    """A new company with the signing-up person as its admin. `client_address`: the
    caller's, whose sign-ups are limited (none: not limited)."""
    await _limit_address(ctx, ctx.rate_limits.signup, client_address)
    email, display_name = clean_email(email), clean_display_name(display_name)
    company_name = company_name.strip()
    if not 1 <= len(company_name) <= 200:
        raise InvalidInput("the company name must be 1..200 characters", field="company_name")
    _check_password(password)
    password_hash = await hash_password(password_hasher(ctx.settings), password)
    async with ctx.transaction() as tx:
        company_id = str(uuid.uuid4())
        await tx.conn.execute(
            companies.insert().values(id=company_id, name=company_name, created_at=tx.now)
        )
        row = await _insert_user(
            tx.conn,
            company_id=company_id,
            email=email,
            display_name=display_name,
            password_hash=password_hash,
            role="admin",
            external_id=None,
            now=tx.now,
        )
    return _session(ctx, row)


async def create_user(
    ctx: DomainContext,
    *,
    company_id: str,
    email: str,
    display_name: str,
    password: str | None,
    role: Role = "member",
    external_id: str | None = None,
) -> dict[str, Any]:
    """An operator's way in (CLI): a person in an existing company."""
    email, display_name = clean_email(email), clean_display_name(display_name)
    if password is not None:
        _check_password(password)
    password_hash = (
        await hash_password(password_hasher(ctx.settings), password) if password else None
    )
    async with ctx.transaction() as tx:
        company = await tx.conn.execute(select(companies.c.id).where(companies.c.id == company_id))
        if company.first() is None:
            raise NotFound("company not found")
        row = await _insert_user(
            tx.conn,
            company_id=company_id,
            email=email,
            display_name=display_name,
            password_hash=password_hash,
            role=role,
            external_id=external_id,
            now=tx.now,
        )
    return user_dict(row)


async def login(
    ctx: DomainContext, *, email: str, password: str, client_address: str | None = None
) -> Session:
    """A session for the right password. Wrong ones are limited per account (the email as
    given, whether or not anyone has it) and per `client_address`.

    Each attempt is counted before its password is checked, and given back when it was
    right: concurrent guesses cannot all slip in before the first one fails, and a
    successful login takes back only its own attempt, not the address's failures for other
    accounts. A refused attempt looks up nothing and checks no password, so it is answered
    alike, and as fast, for an account that exists and one that does not."""
    hasher = password_hasher(ctx.settings)
    email = email.strip().lower()
    limits = ctx.rate_limits
    claims = [(limits.login_account, hashed(email))]
    if client_address is not None:
        claims.append((limits.login_address, client_address))
    attempt = await limits.take(*claims)
    async with ctx.db.read() as conn:
        row = (await conn.execute(select(users).where(users.c.email == email))).first()
    if row is None or row.password_hash is None:
        # Spend the same time as a real check, so timing does not tell who has an account.
        await verify_password(hasher, _decoy_hash(ctx), password)
        raise Unauthenticated("wrong email or password", code="invalid_credentials")
    if not await verify_password(hasher, row.password_hash, password):
        raise Unauthenticated("wrong email or password", code="invalid_credentials")
    await limits.give_back(attempt)
    return _session(ctx, row)


_decoys: dict[tuple[int, int], str] = {}


def _decoy_hash(ctx: DomainContext) -> str:
    key = (ctx.settings.password_hash_time_cost, ctx.settings.password_hash_memory_kib)
    if key not in _decoys:
        _decoys[key] = password_hasher(ctx.settings).hash(secrets.token_hex(16))
    return _decoys[key]


async def create_invite(ctx: DomainContext, actor: Actor) -> dict[str, Any]:
    """An invite code any number of people may join with until it expires."""
    require_admin(actor)
    code = secrets.token_urlsafe(24)
    async with ctx.transaction() as tx:
        expires_at = tx.now + timedelta(seconds=ctx.settings.invite_ttl_seconds)
        await tx.conn.execute(
            invites.insert().values(
                code=code,
                company_id=actor.company_id,
                created_by=actor.user_id,
                created_at=tx.now,
                expires_at=expires_at,
            )
        )
    return {"code": code, "expires_at": expires_at}


async def join(
    ctx: DomainContext,
    *,
    invite_code: str,
    email: str,
    password: str,
    display_name: str,
    client_address: str | None = None,
) -> Session:
    """A member of the invite's company. `client_address`: as for signup."""
    await _limit_address(ctx, ctx.rate_limits.join, client_address)
    email, display_name = clean_email(email), clean_display_name(display_name)
    _check_password(password)
    password_hash = await hash_password(password_hasher(ctx.settings), password)
    async with ctx.transaction() as tx:
        invite = (
            await tx.conn.execute(select(invites).where(invites.c.code == invite_code))
        ).first()
        if invite is None or invite.expires_at <= tx.now:
            raise InvalidInput(
                "the invite code is unknown or has expired",
                code="invalid_invite",
                field="invite_code",
            )
        row = await _insert_user(
            tx.conn,
            company_id=invite.company_id,
            email=email,
            display_name=display_name,
            password_hash=password_hash,
            role="member",
            external_id=None,
            now=tx.now,
        )
    return _session(ctx, row)


async def get_me(ctx: DomainContext, actor: Actor) -> dict[str, Any]:
    async with ctx.db.read() as conn:
        row = (
            await conn.execute(
                select(users).where(
                    users.c.id == actor.user_id, users.c.company_id == actor.company_id
                )
            )
        ).first()
    if row is None:
        raise Unauthenticated("the account no longer exists", code="invalid_token")
    return user_dict(row)


async def list_people(ctx: DomainContext, actor: Actor) -> list[dict[str, Any]]:
    """The actor's company directory, by display name."""
    async with ctx.db.read() as conn:
        rows = await conn.execute(
            select(users)
            .where(users.c.company_id == actor.company_id)
            .order_by(users.c.display_name, users.c.id)
        )
        return [user_dict(r) for r in rows]


async def company_user_ids(conn: Connection, company_id: str, user_ids: set[str]) -> set[str]:
    """Which of these ids are people of this company."""
    if not user_ids:
        return set()
    rows = await conn.execute(
        select(users.c.id).where(users.c.company_id == company_id, users.c.id.in_(user_ids))
    )
    return {r.id for r in rows}
