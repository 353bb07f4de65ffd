"""A person as the API shows them, and the announcement to their company when that changes."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement

from hallway.domain.actor import Actor
from hallway.domain.context import DomainContext
from hallway.files.links import FileLinks
from hallway.store.tables import users
from hallway.store.types import AnyRow, utcnow


def user_dict(row: AnyRow, links: FileLinks) -> dict[str, Any]:
    """A users row as the API shows it; `deactivated` people keep their name on what they
    wrote, marked; `deleted` ones are "former member" (account_deletion.py), with no profile.
    `avatar_url` is a signed link for the people of their company (profiles.py)."""
    deleted = row.deleted_at is not None
    avatar_url = (
        links.avatar_url(row.id, int(row.avatar_version), row.company_id, time.time())
        if row.avatar_key is not None and not deleted
        else None
    )
    return {
        "id": row.id,
        "email": row.email,
        "display_name": row.display_name,
        "company_id": row.company_id,
        "role": row.role,
        "deactivated": row.deactivated_at is not None,
        "deleted": deleted,
        "status_text": None if deleted else row.status_text,
        "status_emoji": None if deleted else row.status_emoji,
        "time_zone": None if deleted else row.time_zone,
        "avatar_url": avatar_url,
        "dnd_until": None if deleted else shown_dnd_until(row.dnd_until),
    }


def shown_dnd_until(dnd_until: datetime | None) -> datetime | None:
    """The end of "do not disturb" as colleagues see it: only while still to come (a past
    end stays stored until the person changes it: notification_settings.py)."""
    return dnd_until if dnd_until is not None and dnd_until > utcnow() else None


async def announce_person(ctx: DomainContext, person: dict[str, Any]) -> None:
    """`user.updated` to the person's company (on its presence topic: the directory is
    company-wide), once their change has committed."""
    await ctx.to_company(person["company_id"], {"type": "user.updated", "user": person})


def own_row(actor: Actor) -> ColumnElement[bool]:
    """Where the actor's own users row is (in their company)."""
    return (users.c.id == actor.user_id) & (users.c.company_id == actor.company_id)
