"""`hallway import slack EXPORT.zip --company NAME`, put together.

The export is read and checked whole before anything is written. Then one transaction
makes (or finds) the company, its people, its conversations and the invite people claim
their accounts with; then each conversation's messages go in, in batches. A run that stops
half-way is finished by running it again: whatever went in before is left as it is.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

from sqlalchemy import select, update

from hallway.domain.accounts import clean_company_name, insert_company
from hallway.domain.context import DomainContext
from hallway.domain.threads import recount_threads
from hallway.files.storage import Storage
from hallway.slack_import import keys, summary
from hallway.slack_import.conversations import import_conversations
from hallway.slack_import.export import ImportFailed, SlackExport
from hallway.slack_import.messages import ConversationImport
from hallway.slack_import.people import import_people
from hallway.slack_import.progress import ProgressBar
from hallway.slack_import.summary import Summary
from hallway.store import search_index
from hallway.store.bulk import chunked
from hallway.store.database import Connection
from hallway.store.tables import companies, conversations, invites, participants, users
from hallway.store.types import utcnow


@dataclass(frozen=True, slots=True)
class Imported:
    company_id: str
    created: bool
    """Whether this run made the company (False: it was imported into before)."""
    invite_code: str
    invite_expires_at: datetime
    summary: Summary


async def _company(conn: Connection, team_id: str, name: str, now: datetime) -> tuple[str, bool]:
    """The company this workspace was imported into under this name, or a new one. A
    company of that name that is not this workspace's is never written into."""
    mine = [
        cid for cid, n in (await keys.companies_of_workspace(conn, team_id)).items() if n == name
    ]
    if mine:
        return mine[0], False
    other = (await conn.execute(select(companies.c.id).where(companies.c.name == name))).first()
    if other is not None:
        raise ImportFailed(
            f"a company named {name!r} exists that was not imported from this Slack "
            "workspace; choose another name with --company"
        )
    company_id = await insert_company(conn, name, now)
    await keys.write_keys(conn, company_id, keys.WORKSPACE, [(team_id, company_id)])
    return company_id, True


async def _invite(
    conn: Connection, ctx: DomainContext, company_id: str, now: datetime
) -> tuple[str, datetime]:
    """A good invite of the company for any number of people, made by an admin: the one
    made before while it lasts, else a new one."""
    good = (
        await conn.execute(
            select(invites.c.code, invites.c.expires_at)
            .where(
                invites.c.company_id == company_id,
                invites.c.revoked_at.is_(None),
                invites.c.max_uses.is_(None),
                invites.c.expires_at > now + timedelta(days=1),
            )
            .order_by(invites.c.expires_at.desc())
        )
    ).first()
    if good is not None:
        return str(good.code), good.expires_at
    admin = (
        await conn.execute(
            select(users.c.id)
            .where(users.c.company_id == company_id, users.c.role == "admin")
            .order_by(users.c.created_at, users.c.id)
        )
    ).first()
    if admin is None:
        raise ImportFailed("the export holds nobody to import")
    code = secrets.token_urlsafe(24)
    expires_at = now + timedelta(seconds=ctx.settings.invite_ttl_seconds)
    await conn.execute(
        invites.insert().values(
            code=code,
            company_id=company_id,
            created_by=admin.id,
            created_at=now,
            expires_at=expires_at,
            max_uses=None,
            uses=0,
        )
    )
    return code, expires_at


async def import_slack(
    ctx: DomainContext, storage: Storage, path: Path, company_name: str, out: TextIO
) -> Imported:
    """Import the export at `path` into the company `company_name`; the progress bar
    goes to `out`. Raises ImportFailed, writing nothing, for an export it cannot read."""
    name = clean_company_name(company_name)
    export = SlackExport(path)
    try:
        result = Summary()
        now = utcnow()
        async with ctx.db.write() as conn:
            company_id, created = await _company(conn, export.team_id, name, now)
            people = await import_people(conn, company_id, export.users, now, result)
            targets = await import_conversations(
                conn, company_id, export.conversations, people, now, result
            )
            code, expires_at = await _invite(conn, ctx, company_id, now)
        result.skipped[summary.UNKNOWN_FOLDER] += sum(export.unknown_folders.values())
        channel_names = {c.id: c.name for c in export.conversations if c.name}
        bar = ProgressBar(export.message_count, "messages", out)
        for slack in export.conversations:
            target = targets.get(slack.id)
            if target is None:
                left_out = sum(len(day) for day in export.days(slack))
                result.skipped[summary.LEFT_OUT] += left_out
                bar.advance(left_out)
                continue
            await ConversationImport(
                db=ctx.db,
                settings=ctx.settings,
                storage=storage,
                export=export,
                company_id=company_id,
                slack=slack,
                conversation_id=target.id,
                people=people,
                channel_names=channel_names,
                summary=result,
                bar=bar,
            ).run()
        await _read_up_to_date(ctx, [t.id for t in targets.values() if t.new])
        # Messages went in without their roots' counts: every thread is counted again.
        async with ctx.db.write() as conn:
            await recount_threads(conn, [t.id for t in targets.values()])
        bar.finish()
    finally:
        export.close()
    # SQLite's search index; the server's indexer would catch up as well, a little later.
    await search_index.index_pending(ctx.db)
    return Imported(company_id, created, code, expires_at, result)


async def _read_up_to_date(ctx: DomainContext, conversation_ids: list[str]) -> None:
    """History brought along is history its people have read: in the conversations this
    run made, everyone has read up to the last seq."""
    if not conversation_ids:
        return
    last_seq = select(conversations.c.last_seq).where(
        conversations.c.id == participants.c.conversation_id
    )
    async with ctx.db.write() as conn:
        for some in chunked(conversation_ids):
            await conn.execute(
                update(participants)
                .where(participants.c.conversation_id.in_(some))
                .values(last_read_seq=last_seq.scalar_subquery())
            )
