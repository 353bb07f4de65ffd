"""Exports built in the background: an admin's of the company or one of its conversations,
a person's of what they wrote (docs/exports.md).

Asking creates a queued job (asking again while the same one is queued or running answers
that one); a process claims it by moving it from queued to running, so that it runs once
however often it is started; the archive goes to file storage and a signed link, fresh on
every look, opens it until the link expires. A job that fails says `failed`; one whose
process stopped while it ran is found at the next start and failed then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select, update

from hallway.domain.access import is_id, require_admin
from hallway.domain.actor import Actor
from hallway.domain.attachment_download import FileDownload, require_valid_link
from hallway.domain.context import DomainContext
from hallway.domain.errors import InvalidInput, NotFound
from hallway.exports.format import Scope, day_start
from hallway.exports.writer import write_export
from hallway.files.storage import Storage
from hallway.store.acting import as_system
from hallway.store.database import Database
from hallway.store.tables import companies, conversations, exports
from hallway.store.types import AnyRow, utcnow

log = logging.getLogger(__name__)

ExportScope = Literal["company", "conversation", "person"]
EXPORT_NOT_FOUND = "export not found"
STOPPED = "the server stopped while it ran"
ARCHIVE_TYPE = "application/zip"
# A running job says it is alive this often (and with each page of progress); one silent
# for longer than STALE_AFTER belongs to a process that stopped.
HEARTBEAT_SECONDS = 60.0
STALE_AFTER = timedelta(minutes=10)


async def request_export(
    ctx: DomainContext,
    actor: Actor,
    scope: ExportScope,
    *,
    conversation_id: str | None = None,
    since: date | None = None,
) -> tuple[dict[str, Any], bool]:
    """Queue an export; (the export, whether it is new). Company and conversation exports
    are for admins (any conversation of their company); a person's covers what they
    wrote. The same request while one is queued or running answers that one."""
    if scope == "person":
        conversation_id = None
    else:
        require_admin(actor)
    if scope == "conversation" and conversation_id is None:
        raise InvalidInput("name the conversation to export", field="conversation_id")
    if scope != "conversation" and conversation_id is not None:
        raise InvalidInput(
            "conversation_id is for a conversation's export", field="conversation_id"
        )
    if conversation_id is not None and not is_id(conversation_id):
        raise NotFound("conversation not found")
    since_at = None if since is None else day_start(since)
    async with ctx.transaction() as tx:
        if conversation_id is not None:
            found = await tx.conn.execute(
                select(conversations.c.id).where(
                    conversations.c.id == conversation_id,
                    conversations.c.company_id == actor.company_id,
                )
            )
            if found.first() is None:
                raise NotFound("conversation not found")
        same = (
            await tx.conn.execute(
                select(exports).where(
                    exports.c.requested_by == actor.user_id,
                    exports.c.scope == scope,
                    _same(exports.c.conversation_id, conversation_id),
                    _same(exports.c.since, since_at),
                    exports.c.state.in_(("queued", "running")),
                )
            )
        ).first()
        if same is not None:
            return export_view(ctx, same), False
        export_id = str(uuid.uuid4())
        await tx.conn.execute(
            exports.insert().values(
                id=export_id,
                company_id=actor.company_id,
                requested_by=actor.user_id,
                scope=scope,
                conversation_id=conversation_id,
                since=since_at,
                state="queued",
                messages_written=0,
                created_at=tx.now,
                updated_at=tx.now,
            )
        )
        row = (await tx.conn.execute(select(exports).where(exports.c.id == export_id))).one()
    return export_view(ctx, row), True


def _same(column: Any, value: Any) -> Any:
    return column.is_(None) if value is None else column == value


async def get_export(ctx: DomainContext, actor: Actor, export_id: str) -> dict[str, Any]:
    """An export its requester may see, and so may the company's admins unless it is a
    person's own; with a fresh download link once it is done."""
    row = await _read_export(ctx, export_id, actor.company_id)
    visible = row is not None and (
        row.requested_by == actor.user_id or (actor.is_admin and row.scope != "person")
    )
    if row is None or not visible:
        raise NotFound(EXPORT_NOT_FOUND)
    return export_view(ctx, row)


async def _read_export(ctx: DomainContext, export_id: str, company_id: str) -> AnyRow | None:
    if not is_id(export_id):
        return None
    async with ctx.db.read() as conn:
        query = select(exports).where(exports.c.id == export_id, exports.c.company_id == company_id)
        return (await conn.execute(query)).first()


def export_view(ctx: DomainContext, row: AnyRow) -> dict[str, Any]:
    done = row.state == "done"
    url, expires = (
        ctx.links.export_url(row.id, row.company_id, time.time()) if done else (None, None)
    )
    return {
        "id": row.id,
        "scope": row.scope,
        "conversation_id": row.conversation_id,
        "since": row.since.date() if row.since is not None else None,
        "state": row.state,
        "messages_written": int(row.messages_written),
        "messages_total": None if row.messages_total is None else int(row.messages_total),
        "size": None if row.size is None else int(row.size),
        "error": row.error,
        "created_at": row.created_at,
        "finished_at": row.finished_at,
        "download_url": url,
        "download_expires_at": (
            datetime.fromtimestamp(expires, UTC) if expires is not None else None
        ),
    }


async def resolve_export_download(
    ctx: DomainContext, export_id: str, *, scope: str, expires: int, signature: str
) -> FileDownload:
    """The archive a signed export link opens: refused as a file link is when tampered
    with or late; NotFound once the export is gone."""
    require_valid_link(
        ctx, "export", export_id, scope, expires, signature, refresh="look at the export again"
    )
    row = await _read_export(ctx, export_id, scope)
    if row is None or row.state != "done" or row.storage_key is None:
        raise NotFound(EXPORT_NOT_FOUND)
    return FileDownload(
        key=row.storage_key,
        size=None if row.size is None else int(row.size),
        content_type=ARCHIVE_TYPE,
        filename=f"hallway-{row.scope}-export-{row.created_at:%Y-%m-%d}.zip",
        inline=False,
        etag=f'"export-{row.id}"',
        expires=expires,
    )


async def run_export(ctx: DomainContext, export_id: str) -> None:
    """Build a queued export, unless another call claimed it first. Failures are recorded
    on the export (and logged), never raised. The export reads across people (a company's
    conversations, whoever asked): it runs as the system, its scope fenced by rows.py."""
    with as_system():
        await _run_export(ctx, export_id)


async def _run_export(ctx: DomainContext, export_id: str) -> None:
    async with ctx.db.write() as conn:
        claimed = (
            await conn.execute(
                update(exports)
                .where(exports.c.id == export_id, exports.c.state == "queued")
                .values(state="running", updated_at=utcnow())
                .returning(*exports.c)
            )
        ).first()
    if claimed is None:
        return
    storage: Storage = ctx.storage
    target = storage.staging_dir / f"export-{os.getpid()}-{export_id}.zip"
    key = f"exports/{claimed.company_id}/{export_id}.zip"
    heartbeat = asyncio.create_task(_beat(ctx, export_id))
    try:
        await write_export(
            ctx.db, storage, _scope_of(claimed), target, progress=_progress(ctx, export_id)
        )
        size = (await asyncio.to_thread(target.stat)).st_size
        await storage.put(key, target, ARCHIVE_TYPE)
        await _finish(ctx, export_id, state="done", storage_key=key, size=size)
    except asyncio.CancelledError:
        # The server is stopping: say so now rather than leave it running for the next
        # start to find.
        with contextlib.suppress(Exception):
            await _finish(ctx, export_id, state="failed", error=STOPPED)
        raise
    except Exception as exc:
        log.exception("export %s failed", export_id)
        await _finish(ctx, export_id, state="failed", error=f"{type(exc).__name__}: {exc}"[:500])
    finally:
        heartbeat.cancel()
        await asyncio.to_thread(target.unlink, missing_ok=True)


async def _beat(ctx: DomainContext, export_id: str) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS)
        async with ctx.db.write() as conn:
            await conn.execute(
                update(exports).where(exports.c.id == export_id).values(updated_at=utcnow())
            )


def _scope_of(row: AnyRow) -> Scope:
    return Scope(
        kind=row.scope,
        company_id=row.company_id,
        conversation_id=row.conversation_id,
        user_id=row.requested_by if row.scope == "person" else None,
        since=row.since,
    )


def _progress(ctx: DomainContext, export_id: str) -> Callable[[int, int], Awaitable[None]]:
    async def told(written: int, total: int) -> None:
        async with ctx.db.write() as conn:
            await conn.execute(
                update(exports)
                .where(exports.c.id == export_id)
                .values(messages_written=written, messages_total=total, updated_at=utcnow())
            )

    return told


async def _finish(ctx: DomainContext, export_id: str, *, state: str, **values: Any) -> None:
    now = utcnow()
    async with ctx.db.write() as conn:
        await conn.execute(
            update(exports)
            .where(exports.c.id == export_id, exports.c.state == "running")
            .values(state=state, updated_at=now, finished_at=now, **values)
        )


async def waiting_exports(ctx: DomainContext) -> list[str]:
    """At a start: fail the jobs whose process stopped while they ran (silent for longer
    than STALE_AFTER); the ids of the queued ones, to run."""
    now = utcnow()
    async with ctx.db.write() as conn:
        await conn.execute(
            update(exports)
            .where(exports.c.state == "running", exports.c.updated_at < now - STALE_AFTER)
            .values(
                state="failed",
                error=STOPPED,
                updated_at=now,
                finished_at=now,
            )
        )
        queued = await conn.execute(
            select(exports.c.id).where(exports.c.state == "queued").order_by(exports.c.created_at)
        )
        return list(queued.scalars())


async def find_scope(
    db: Database, *, company_id: str | None, conversation_id: str | None, since: date | None
) -> Scope:
    """A company's scope, or a conversation's (in its company); NotFound for neither."""
    since_at = None if since is None else day_start(since)
    async with db.read() as conn:
        if company_id is not None:
            found = await conn.execute(select(companies.c.id).where(companies.c.id == company_id))
            if found.first() is None:
                raise NotFound(f"no company {company_id}")
            return Scope(kind="company", company_id=company_id, since=since_at)
        row = (
            await conn.execute(
                select(conversations.c.company_id).where(conversations.c.id == conversation_id)
            )
        ).first()
    if row is None:
        raise NotFound(f"no conversation {conversation_id}")
    return Scope(
        kind="conversation",
        company_id=row.company_id,
        conversation_id=conversation_id,
        since=since_at,
    )
