"""The workspace's people as the company's: new rows for those not imported before.

Nobody gets a password: each claims their account by joining with the company's invite
under the address Slack knew them by (hallway/domain/signup.py). Bots are left out, and
people Slack deactivated come in deactivated, so that their messages keep a sender.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from hallway.domain.accounts import clean_email
from hallway.domain.actor import Role
from hallway.domain.errors import InvalidInput
from hallway.slack_import import keys, summary
from hallway.slack_import.export import SlackUser
from hallway.slack_import.summary import Summary
from hallway.store.bulk import chunked, insert_rows
from hallway.store.database import Connection
from hallway.store.tables import users

MAX_NAME_CHARS = 100


@dataclass(frozen=True, slots=True)
class People:
    ids: dict[str, str]
    """Slack user id to Hallway user id, for everyone imported (now or before)."""
    names: dict[str, str]
    """Slack user id to the name mentions of them show."""
    bots: set[str]
    """Slack ids of bots, whose messages are left out."""


def placeholder_email(company_id: str, slack_id: str) -> str:
    """An address no mail reaches (.invalid is reserved), for someone the export gives none
    of their own: unique, as every login name must be."""
    return f"slack-{slack_id.lower()}@{company_id}.invalid"


def _email(person: SlackUser) -> str | None:
    if person.email is None:
        return None
    try:
        return clean_email(person.email)
    except InvalidInput:
        return None


async def import_people(
    conn: Connection,
    company_id: str,
    people: list[SlackUser],
    now: datetime,
    summary_: Summary,
) -> People:
    known = await keys.read_keys(conn, company_id, keys.USER)
    bots = {p.id for p in people if p.is_bot}
    humans = [p for p in people if not p.is_bot]
    summary_.skipped[summary.BOT_ACCOUNT] += len(bots)
    new = [p for p in humans if p.id not in known]
    wanted = sorted({e for p in new if (e := _email(p)) is not None})
    taken: set[str] = set()
    for some in chunked(wanted):
        rows = await conn.execute(select(users.c.email).where(users.c.email.in_(some)))
        taken.update(r.email for r in rows)
    has_admin = any(p.is_admin and not p.deleted for p in humans) or bool(known)
    rows_: list[dict[str, Any]] = []
    for person in new:
        email = _email(person)
        if email is not None and email in taken:
            summary_.skipped[summary.TAKEN_EMAIL] += 1
            email = None
        if email is None:
            email = placeholder_email(company_id, person.id)
        taken.add(email)
        role: Role = "admin" if person.is_admin and not person.deleted else "member"
        if not has_admin and not person.deleted:
            # A company always has an admin; Slack's export may flag none.
            role, has_admin = "admin", True
        rows_.append(
            {
                "id": str(uuid.uuid4()),
                "company_id": company_id,
                "email": email,
                "display_name": person.name[:MAX_NAME_CHARS],
                "password_hash": None,
                "role": role,
                "external_id": None,
                "created_at": now,
                "deactivated_at": now if person.deleted else None,
                "deleted_at": None,
            }
        )
    await insert_rows(conn, users, rows_)
    pairs = [(p.id, str(r["id"])) for p, r in zip(new, rows_, strict=True)]
    await keys.write_keys(conn, company_id, keys.USER, pairs)
    summary_.imported["people"] += len(rows_)
    ids = {**known, **dict(pairs)}
    names = {p.id: p.name for p in humans}
    return People(ids=ids, names=names, bots=bots)
