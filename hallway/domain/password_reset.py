"""An admin's one-time link for a person to choose a new password (they forgot theirs).

The link is good once, for `password_reset_ttl_seconds` (15 min), and a newer one replaces
it. With SMTP configured it is mailed to the person and the admin never sees it; without
(the outbox folder reaches no one's inbox), the admin is shown it to pass on. Using it sets
the password and ends every session of the person, on every node.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from hallway.domain.access import require_admin
from hallway.domain.accounts import check_password
from hallway.domain.actor import Actor
from hallway.domain.context import DomainContext
from hallway.domain.errors import Conflict, InvalidInput, NotFound, Unavailable
from hallway.domain.mailed_links import MAX_TOKEN_CHARS, spend_link
from hallway.domain.passwords import hash_password, password_hasher
from hallway.domain.sessions import revoke_sessions, sessions_ended, stored_hash
from hallway.mail import Mail, MailUnsent
from hallway.store.tables import password_resets, users


def _link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/#/reset/{token}"


async def issue_reset(
    ctx: DomainContext, actor: Actor, user_id: str, base_url: str
) -> dict[str, Any]:
    """A new link for a person of the admin's company. Answers when it expires, whether it
    was mailed, and (only when it was not) the link itself."""
    require_admin(actor)
    token = secrets.token_urlsafe(32)
    async with ctx.transaction() as tx:
        person = (
            await tx.conn.execute(
                select(users).where(
                    users.c.id == user_id,
                    users.c.company_id == actor.company_id,
                    users.c.deleted_at.is_(None),
                )
            )
        ).first()
        if person is None:
            raise NotFound("person not found")
        if person.deactivated_at is not None:
            raise Conflict("reactivate the person first", code="account_deactivated")
        if person.external_id is not None and person.password_hash is None:
            raise Conflict(
                "this person signs in through the company's identity provider",
                code="no_password",
            )
        # One live link at a time: a newer one replaces any earlier.
        await tx.conn.execute(
            update(password_resets)
            .where(password_resets.c.user_id == user_id, password_resets.c.used_at.is_(None))
            .values(used_at=tx.now)
        )
        expires_at = tx.now + timedelta(seconds=ctx.settings.password_reset_ttl_seconds)
        await tx.conn.execute(
            password_resets.insert().values(
                token_hash=stored_hash(token),
                user_id=user_id,
                created_by=actor.user_id,
                created_at=tx.now,
                expires_at=expires_at,
            )
        )
    link = _link(ctx.settings.public_url or base_url, token)
    if ctx.mailer is None or not ctx.mailer.reaches_inbox:
        return {"expires_at": expires_at, "emailed": False, "url": link}
    try:
        await ctx.mailer.send(_reset_mail(person.email, person.display_name, link, expires_at))
    except MailUnsent as exc:
        raise Unavailable(f"the mail could not be sent: {exc}", code="mail_failed") from exc
    return {"expires_at": expires_at, "emailed": True, "url": None}


def _reset_mail(to: str, name: str, link: str, expires_at: datetime) -> Mail:
    return Mail(
        to=to,
        subject="Choose a new Hallway password",
        text=(
            f"Hello {name},\n\n"
            "An admin of your company asked Hallway to let you choose a new password.\n"
            f"Open this link before {expires_at:%H:%M} UTC; it works once:\n\n{link}\n\n"
            "If you did not expect this, tell your admin. Your password stays as it is "
            "until the link is used.\n"
        ),
    )


async def reset_password(ctx: DomainContext, token: str, new_password: str) -> None:
    """Set the password the link's person chose; every session of theirs ends."""
    check_password(new_password, field="new_password")
    unusable = InvalidInput(
        "the link is unknown, used or expired; ask an admin for a new one",
        code="invalid_reset_token",
        field="token",
    )
    if len(token) > MAX_TOKEN_CHARS:
        raise unusable  # before spending a hash on it
    new_hash = await hash_password(password_hasher(ctx.settings), new_password)
    async with ctx.transaction() as tx:
        row = await spend_link(tx, password_resets, token, unusable)
        await tx.conn.execute(
            update(users)
            .where(
                users.c.id == row.user_id,
                users.c.deactivated_at.is_(None),
                users.c.deleted_at.is_(None),
            )
            .values(password_hash=new_hash)
        )
        ended = await revoke_sessions(ctx, tx, row.user_id)
    await sessions_ended(ctx, row.user_id, ended)
