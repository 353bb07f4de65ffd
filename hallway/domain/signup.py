"""Signing up a new company, and joining one with an invite: both finish by mail.

Sign-up and join answer alike, and do alike work, whether or not the address already has an
account, so neither tells anyone who has one. The request is kept (hashed password and all)
and a link is mailed to the address; opening it creates the company or the person and starts
a session. When the address is taken, its owner is mailed instead, told that someone tried
and how to log in; nothing is kept. Only whoever reads the mailbox learns which it was.

Joining with an invite also claims an account nobody has signed in to yet: one made
without a password nor an identity provider's id, as `hallway import slack` makes them
(docs/import.md). When the address is such an account's, in the invite's company, the link
mailed to it sets the password chosen and signs in as that account, with its history; the
name it had is kept.

Both are limited per client address, before any password is hashed.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, and_, select, update

from hallway.domain.accounts import (
    check_password,
    clean_company_name,
    clean_display_name,
    clean_email,
    insert_company,
    insert_user,
)
from hallway.domain.actor import Role
from hallway.domain.context import DomainContext
from hallway.domain.errors import InvalidInput, Unavailable
from hallway.domain.invites import invite_company, redeem_invite
from hallway.domain.mailed_links import spend_link
from hallway.domain.passwords import hash_password, password_hasher
from hallway.domain.sessions import ClientInfo, Tokens, start_session, stored_hash
from hallway.mail import Mail, MailUnsent, outbox_mails_to
from hallway.store.tables import signup_requests, users
from hallway.store.types import utcnow

_LINK = re.compile(r"/#/welcome/([A-Za-z0-9_-]+)")


def _link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/#/welcome/{token}"


async def request_signup(
    ctx: DomainContext,
    client: ClientInfo,
    base_url: str,
    *,
    company_name: str,
    email: str,
    password: str,
    display_name: str,
) -> dict[str, Any]:
    """Mail the link that creates a new company with this person as its admin."""
    await ctx.rate_limits.hit(ctx.rate_limits.signup, client.address)
    email, display_name = clean_email(email), clean_display_name(display_name)
    company_name = clean_company_name(company_name)
    check_password(password)
    return await _request(
        ctx,
        base_url,
        email=email,
        display_name=display_name,
        password=password,
        company_name=company_name,
        invite_code=None,
        purpose=f"create the company {company_name}",
    )


async def request_join(
    ctx: DomainContext,
    client: ClientInfo,
    base_url: str,
    *,
    invite_code: str,
    email: str,
    password: str,
    display_name: str,
) -> dict[str, Any]:
    """Mail the link that makes this person a member of the invite's company. The invite is
    checked now, and used up only when the link is opened."""
    await ctx.rate_limits.hit(ctx.rate_limits.join, client.address)
    email, display_name = clean_email(email), clean_display_name(display_name)
    check_password(password)
    async with ctx.db.read() as conn:
        company_id, company_name = await invite_company(conn, invite_code, utcnow())
        claim = (
            await conn.execute(select(users.c.id).where(_unclaimed(email, company_id)))
        ).first() is not None
    return await _request(
        ctx,
        base_url,
        email=email,
        display_name=display_name,
        password=password,
        company_name=None,
        invite_code=invite_code,
        purpose=f"claim your account in {company_name}" if claim else f"join {company_name}",
        claim=claim,
    )


def _unclaimed(email: str, company_id: str) -> ColumnElement[bool]:
    """The company's account of this address that nobody can sign in to yet (no password,
    no identity provider), still active."""
    return and_(
        users.c.email == email,
        users.c.company_id == company_id,
        users.c.password_hash.is_(None),
        users.c.external_id.is_(None),
        users.c.deactivated_at.is_(None),
        users.c.deleted_at.is_(None),
    )


async def _request(
    ctx: DomainContext,
    base_url: str,
    *,
    email: str,
    display_name: str,
    password: str,
    company_name: str | None,
    invite_code: str | None,
    purpose: str,
    claim: bool = False,
) -> dict[str, Any]:
    """`claim`: the address is an unclaimed account's in the invite's company, so it is
    not taken to this request."""
    if ctx.mailer is None:
        raise Unavailable("this server cannot send mail", code="mail_failed")
    # Hashed whether or not the address is taken: the answer takes as long either way.
    password_hash = await hash_password(password_hasher(ctx.settings), password)
    token = secrets.token_urlsafe(32)
    ttl = ctx.settings.signup_confirmation_ttl_seconds
    base = ctx.settings.public_url or base_url
    async with ctx.db.read() as conn:
        taken = (
            not claim
            and (await conn.execute(select(users.c.id).where(users.c.email == email))).first()
            is not None
        )
    now = utcnow()
    expires_at = now + timedelta(seconds=ttl)
    if taken:
        mail = _taken_mail(email, purpose, base)
    else:
        mail = _confirm_mail(email, display_name, purpose, _link(base, token), expires_at)
    # Mailed first, kept after: a mail that could not be sent leaves nothing behind.
    try:
        await ctx.mailer.send(mail)
    except MailUnsent as exc:
        raise Unavailable(f"the mail could not be sent: {exc}", code="mail_failed") from exc
    if not taken:
        async with ctx.transaction() as tx:
            await tx.conn.execute(
                signup_requests.insert().values(
                    token_hash=stored_hash(token),
                    email=email,
                    display_name=display_name,
                    password_hash=password_hash,
                    company_name=company_name,
                    invite_code=invite_code,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
    return {"email": email, "expires_in": ttl}


def _confirm_mail(email: str, name: str, purpose: str, link: str, expires_at: datetime) -> Mail:
    return Mail(
        to=email,
        subject="Finish signing up to Hallway",
        text=(
            f"Hello {name},\n\n"
            f"Open this link to {purpose} on Hallway and log in; it works once, "
            f"until {expires_at:%Y-%m-%d %H:%M} UTC:\n\n{link}\n\n"
            "If you did not ask for this, ignore this mail: nothing is created until the "
            "link is opened.\n"
        ),
    )


def _taken_mail(email: str, purpose: str, base_url: str) -> Mail:
    return Mail(
        to=email,
        subject="You already have a Hallway account",
        text=(
            f"Someone, perhaps you, asked Hallway to {purpose} with this address. It already "
            "has an account, and an address belongs to one account, so nothing was created.\n\n"
            f"Log in at {base_url.rstrip('/')}/ with this address. If you forgot the "
            "password, an admin of your company can send you a link to choose a new one.\n\n"
            "If it was not you, ignore this mail: nothing has changed.\n"
        ),
    )


async def confirm_signup(ctx: DomainContext, client: ClientInfo, token: str) -> Tokens:
    """Create what the link's request asked for, and log in; the link is spent."""
    unusable = InvalidInput(
        "the link is unknown, used or expired; sign up again for a new one",
        code="invalid_signup_token",
        field="token",
    )
    async with ctx.transaction() as tx:
        request = await spend_link(tx, signup_requests, token, unusable)
        role: Role
        if request.invite_code is not None:
            company_id = await redeem_invite(tx, request.invite_code)
            role = "member"
            claimed = (
                await tx.conn.execute(
                    update(users)
                    .where(_unclaimed(request.email, company_id))
                    .values(password_hash=request.password_hash)
                    .returning(*users.c)
                )
            ).first()
            if claimed is not None:
                return await start_session(ctx, tx, claimed, client)
        else:
            company_id = await insert_company(tx.conn, request.company_name, tx.now)
            role = "admin"
        # Another request for the same address may have been confirmed first: then this
        # one answers email_taken, which tells the mailbox's reader nothing new.
        row = await insert_user(
            tx.conn,
            company_id=company_id,
            email=request.email,
            display_name=request.display_name,
            password_hash=request.password_hash,
            role=role,
            external_id=None,
            now=tx.now,
        )
        return await start_session(ctx, tx, row, client)


def confirmation_token_in(text: str) -> str | None:
    """The token of the sign-up link in a mail's text, if it has one."""
    match = _LINK.search(text)
    return match.group(1) if match else None


def outbox_confirmation_token(outbox: Path, email: str) -> str:
    """The token of the newest sign-up link in an outbox folder's mail to `email` (a server
    without SMTP writes mail there: for tests and a laptop's first sign-up)."""
    for mail in reversed(outbox_mails_to(outbox, email)):
        body = mail.get_body(preferencelist=("plain",))
        token = confirmation_token_in(body.get_content() if body is not None else "")
        if token:
            return token
    raise LookupError(f"no sign-up link to {email} in {outbox}")
