"""How long messages are kept: a company's policy, and a conversation's own.

A company keeps its messages forever (the default) or for N days, and chooses whether what
expires is archived first. A conversation follows its company, or overrides it: forever, or
its own N days. Admins set both; the retention job (retention.py) applies them.

Stored as `companies.retention_days` (NULL: forever) and `conversations.retention_days`
(NULL: the company's; 0: forever; N).
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import select, update

from hallway.domain.access import conversation_for_member, require_admin
from hallway.domain.actor import Actor
from hallway.domain.context import DomainContext
from hallway.domain.errors import InvalidInput
from hallway.store.tables import companies, conversations

MAX_RETENTION_DAYS = 36_500  # a hundred years: more is forever
FOREVER: Literal["forever"] = "forever"
COMPANY: Literal["company"] = "company"
CompanyRetention = int | Literal["forever"]
ConversationRetention = int | Literal["forever", "company"]
_CONVERSATION_FOREVER = 0


def effective_days(company_days: int | None, conversation_days: int | None) -> int | None:
    """The days a conversation's messages are kept; None: forever."""
    if conversation_days is None:
        return company_days
    return None if conversation_days == _CONVERSATION_FOREVER else conversation_days


def _days(value: int | str, *, allowed: tuple[str, ...]) -> int | str:
    if isinstance(value, str):
        if value not in allowed:
            raise InvalidInput(
                f"retention is a number of days or one of {', '.join(allowed)}", field="retention"
            )
        return value
    if not 1 <= value <= MAX_RETENTION_DAYS:
        raise InvalidInput(f"retention must be 1..{MAX_RETENTION_DAYS} days", field="retention")
    return value


def _shown(days: int | None) -> CompanyRetention:
    return FOREVER if days is None else days


async def company_policy(ctx: DomainContext, actor: Actor) -> dict[str, Any]:
    async with ctx.db.read() as conn:
        row = (
            await conn.execute(
                select(companies.c.retention_days, companies.c.archive_expired).where(
                    companies.c.id == actor.company_id
                )
            )
        ).one()
    return {"retention": _shown(row.retention_days), "archive_expired": row.archive_expired}


async def set_company_policy(
    ctx: DomainContext,
    actor: Actor,
    *,
    retention: CompanyRetention | None = None,
    archive_expired: bool | None = None,
) -> dict[str, Any]:
    """Admins only. What is not given stays as it is."""
    require_admin(actor)
    values: dict[str, Any] = {}
    if retention is not None:
        days = _days(retention, allowed=(FOREVER,))
        values["retention_days"] = None if days == FOREVER else days
    if archive_expired is not None:
        values["archive_expired"] = archive_expired
    if values:
        async with ctx.db.write() as conn:
            await conn.execute(
                update(companies).where(companies.c.id == actor.company_id).values(**values)
            )
    return await company_policy(ctx, actor)


async def conversation_policy(
    ctx: DomainContext, actor: Actor, conversation_id: str
) -> dict[str, Any]:
    """A conversation's own choice and what applies: for its members."""
    async with ctx.db.read() as conn:
        conversation = await conversation_for_member(conn, actor, conversation_id)
        company_days = (
            await conn.execute(
                select(companies.c.retention_days).where(companies.c.id == actor.company_id)
            )
        ).scalar_one()
    own = conversation.retention_days
    return {
        "retention": COMPANY if own is None else _shown(effective_days(None, own)),
        "effective": _shown(effective_days(company_days, own)),
    }


async def set_conversation_policy(
    ctx: DomainContext, actor: Actor, conversation_id: str, retention: ConversationRetention
) -> dict[str, Any]:
    """Admins only, of a conversation they take part in (one they are not in is not found,
    whoever asks, before anything else is said)."""
    days = _days(retention, allowed=(COMPANY, FOREVER))
    stored: int | None
    if days == COMPANY:
        stored = None
    elif days == FOREVER:
        stored = _CONVERSATION_FOREVER
    else:
        stored = int(days)
    async with ctx.db.write() as conn:
        await conversation_for_member(conn, actor, conversation_id, lock=True)
        require_admin(actor)
        await conn.execute(
            update(conversations)
            .where(conversations.c.id == conversation_id)
            .values(retention_days=stored)
        )
    return await conversation_policy(ctx, actor, conversation_id)
