"""Accounts: the rules of an email, a name and a password; login; an operator's way to add a
person; the company directory. Sign-up and join are hallway.domain.signup."""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hallway.domain.actor import Actor, Role
from hallway.domain.context import DomainContext
from hallway.domain.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from hallway.domain.passwords import hash_password, password_hasher, verify_password
from hallway.domain.rate_limits import hashed
from hallway.domain.sessions import ClientInfo, Tokens, start_session
from hallway.domain.user_views import own_row, user_dict
from hallway.store.database import Connection
from hallway.store.tables import companies, users
from hallway.store.types import AnyRow

MIN_PASSWORD_LENGTH = 8
# Something, an @, and a domain with a dot in it; checked after surrounding spaces go.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_EMAIL = re.compile(EMAIL_PATTERN)


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


def check_password(password: str, *, field: str = "password") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"the password must be at least {MIN_PASSWORD_LENGTH} characters", field=field
        )


async def insert_user(
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


async def insert_company(conn: Connection, name: str, now: datetime) -> str:
    """A new, empty company; its id."""
    company_id = str(uuid.uuid4())
    await conn.execute(companies.insert().values(id=company_id, name=name, created_at=now))
    return company_id


def clean_company_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise InvalidInput("the company name must be 1..200 characters", field="company_name")
    return name


async def create_company(
    ctx: DomainContext, *, company_name: str, email: str, display_name: str, password: str
) -> dict[str, Any]:
    """An operator's way in (CLI): a new company and its first admin, no mail involved."""
    company_name = clean_company_name(company_name)
    email, display_name = clean_email(email), clean_display_name(display_name)
    check_password(password)
    password_hash = await hash_password(password_hasher(ctx.settings), password)
    async with ctx.transaction() as tx:
        row = await insert_user(
            tx.conn,
            company_id=await insert_company(tx.conn, company_name, tx.now),
            email=email,
            display_name=display_name,
            password_hash=password_hash,
            role="admin",
            external_id=None,
            now=tx.now,
        )
    return user_dict(row, ctx.links)


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
        check_password(password)
    password_hash = (
        await hash_password(password_hasher(ctx.settings), password) if password else None
    )
    async with ctx.transaction() as tx:
        company = await tx.conn.execute(select(companies.c.id).where(companies.c.id == company_id))
        if company.first() is None:
            raise NotFound("company not found")
        row = await insert_user(
            tx.conn,
            company_id=company_id,
            email=email,
            display_name=display_name,
            password_hash=password_hash,
            role=role,
            external_id=external_id,
            now=tx.now,
        )
    return user_dict(row, ctx.links)


async def login(ctx: DomainContext, client: ClientInfo, *, email: str, password: str) -> Tokens:
    """A new session for the right password. Wrong ones are limited per account (the email
    as given, whether or not anyone has it) and per client address.

    Each attempt is counted before its password is checked, and given back when it was
    right: concurrent guesses cannot all slip in before the first one fails, and a
    successful login takes back only its own attempt, not the address's failures for other
    accounts. A refused attempt looks up nothing and checks no password, so it is answered
    alike, and as fast, for an account that exists and one that does not."""
    hasher = password_hasher(ctx.settings)
    email = email.strip().lower()
    limits = ctx.rate_limits
    attempt = await limits.take(
        (limits.login_account, hashed(email)), (limits.login_address, client.address)
    )
    async with ctx.db.read() as conn:
        row = (await conn.execute(select(users).where(users.c.email == email))).first()
    if row is None or row.password_hash is None:
        # Spend the same time as a real check, so timing does not tell who has an account.
        await verify_password(hasher, _decoy_hash(ctx), password)
        raise Unauthenticated("wrong email or password", code="invalid_credentials")
    if not await verify_password(hasher, row.password_hash, password):
        raise Unauthenticated("wrong email or password", code="invalid_credentials")
    await limits.give_back(attempt)
    if row.deactivated_at is not None:
        # Told only to whoever knows the password.
        raise Unauthenticated(
            "this account has been deactivated by an admin", code="account_deactivated"
        )
    async with ctx.transaction() as tx:
        return await start_session(ctx, tx, row, client)


_decoys: dict[tuple[int, int], str] = {}


def _decoy_hash(ctx: DomainContext) -> str:
    key = (ctx.settings.password_hash_time_cost, ctx.settings.password_hash_memory_kib)
    if key not in _decoys:
        _decoys[key] = password_hasher(ctx.settings).hash(secrets.token_hex(16))
    return _decoys[key]


async def get_me(ctx: DomainContext, actor: Actor) -> dict[str, Any]:
    async with ctx.db.read() as conn:
        row = (await conn.execute(select(users).where(own_row(actor)))).first()
    if row is None:
        raise Unauthenticated("the account no longer exists", code="invalid_token")
    return user_dict(row, ctx.links)


async def list_people(ctx: DomainContext, actor: Actor) -> list[dict[str, Any]]:
    """The actor's company directory, by display name."""
    async with ctx.db.read() as conn:
        rows = await conn.execute(
            select(users)
            .where(users.c.company_id == actor.company_id)
            .order_by(users.c.display_name, users.c.id)
        )
        return [user_dict(r, ctx.links) for r in rows]


async def company_user_ids(conn: Connection, company_id: str, user_ids: set[str]) -> set[str]:
    """Which of these ids are people of this company (a deleted account is no one's)."""
    if not user_ids:
        return set()
    rows = await conn.execute(
        select(users.c.id).where(
            users.c.company_id == company_id,
            users.c.id.in_(user_ids),
            users.c.deleted_at.is_(None),
        )
    )
    return {r.id for r in rows}
