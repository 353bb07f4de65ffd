"""Importing a Hallway export (a company's or a conversation's) into a company of its own.

Every imported row gets an id derived from its id in the export (a name-based UUID, RFC
9562 version 5, under the new company's id, itself derived from the exported company's):
the same export always lands on the same rows, so an import run again, or resumed after it
stopped half way, adds only what is missing and changes nothing else. Ids are never reused
as they are: the exported company may live in the same database.

What is imported as it was: people (names, roles, deactivated or former; no password: an
admin sends each a password-reset link), conversations with their members and join times,
messages with their edit trails, reactions, threads and attachments (bytes checked against
their sha256, thumbnails made again), deleted messages as tombstones. Each conversation's
messages are numbered 1, 2, 3 … in the order they had, each logged as its
`message.created` event, so the new log has no gaps; members have read them all. A person
whose email another account has already gets a placeholder address in `.invalid`.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import shutil
import uuid
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from hallway.domain.account_deletion import FORMER_MEMBER, placeholder_email
from hallway.domain.accounts import clean_company_name
from hallway.domain.context import DomainContext
from hallway.domain.conversations import direct_pair_key
from hallway.domain.message_format import render_body
from hallway.domain.message_send import CREATED
from hallway.domain.message_views import message_dict
from hallway.domain.threads import recount_threads
from hallway.exports.format import (
    MANIFEST_NAME,
    RECORDS_NAME,
    AnyRecord,
    ConversationRecord,
    InvalidExport,
    Manifest,
    MessageRecord,
    PersonRecord,
    ReactionRecord,
    read_records,
)
from hallway.files.images import THUMBNAIL_TYPE, THUMBNAILED_TYPES, ImageTooLarge, make_thumbnail
from hallway.files.storage import Storage
from hallway.store.database import Connection
from hallway.store.names import conversation_channel_key
from hallway.store.tables import (
    attachments,
    companies,
    conversations,
    events,
    message_edits,
    messages,
    participants,
    reactions,
    users,
)
from hallway.store.types import utcnow

# Under which the new company's id is derived from the exported one's.
IMPORT_NAMESPACE = uuid.UUID("6f1c2a52-3c1e-4f8e-9a57-1d0b8f7e2c41")
BATCH_RECORDS = 500
IMPORTABLE = ("company", "conversation")


def imported_company_id(exported_company_id: str) -> str:
    return str(uuid.uuid5(IMPORT_NAMESPACE, f"hallway:{exported_company_id}"))


def imported_id(company_id: str, kind: str, exported_id: str) -> str:
    """The id of the row an exported one becomes in the importing company."""
    return str(uuid.uuid5(uuid.UUID(company_id), f"{kind}:{exported_id}"))


@dataclass
class ImportSummary:
    company_id: str
    company_created: bool
    added: Counter[str] = field(default_factory=Counter)
    """What was added, by kind: people, conversations, members, messages, edits,
    reactions, files. Nothing when the export was imported before."""
    skipped: Counter[str] = field(default_factory=Counter)
    """What was not imported as it was, and why (e.g. `email_taken`)."""


@dataclass
class _Conversation:
    local_id: str
    messages: int = 0
    last_activity: datetime | None = None


@dataclass
class _Import:
    ctx: DomainContext
    archive: zipfile.ZipFile
    company_id: str
    summary: ImportSummary
    # The zip's members, looked up for every file.
    names: set[str] = field(default_factory=set)
    people: set[str] = field(default_factory=set)
    conversations: dict[str, _Conversation] = field(default_factory=dict)

    def local(self, kind: str, exported_id: str) -> str:
        return imported_id(self.company_id, kind, exported_id)

    def person(self, exported_id: str | None) -> str | None:
        """The imported person, or None for someone the export does not hold."""
        if exported_id is None or exported_id not in self.people:
            return None
        return self.local("person", exported_id)


async def import_hallway_export(
    ctx: DomainContext, source: Path, *, company_name: str
) -> ImportSummary:
    """Import the export at `source` (a zip `hallway export` or the API wrote) into the
    company it was imported into before, or else a new company named `company_name`.
    Raises InvalidExport, before changing anything, for a file that is not a complete,
    undamaged export of a company or a conversation."""
    company_name = clean_company_name(company_name)
    archive = await asyncio.to_thread(_open, source)
    try:
        manifest = await asyncio.to_thread(_checked_manifest, archive)
        company_id = imported_company_id(manifest.scope.company_id)
        async with ctx.db.write() as conn:
            found = await conn.execute(select(companies.c.id).where(companies.c.id == company_id))
            created = found.first() is None
            if created:
                await conn.execute(
                    companies.insert().values(id=company_id, name=company_name, created_at=utcnow())
                )
        run = _Import(ctx, archive, company_id, ImportSummary(company_id, created))
        run.names = set(archive.namelist())
        records = await asyncio.to_thread(_records, archive)
        while batch := await asyncio.to_thread(_take, records, BATCH_RECORDS):
            for kind, group in itertools.groupby(batch, key=lambda r: r.type):
                await _add(run, kind, list(group))
        await _finish_conversations(run)
    finally:
        await asyncio.to_thread(archive.close)
    return run.summary


def _open(source: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(source)
    except (OSError, zipfile.BadZipFile) as exc:
        raise InvalidExport(f"{source} is not a Hallway export (a zip file): {exc}") from exc


def _checked_manifest(archive: zipfile.ZipFile) -> Manifest:
    """The manifest, once every file it lists has its size and sha256. Blocking."""
    try:
        manifest = Manifest.from_json(archive.read(MANIFEST_NAME))
    except KeyError:
        raise InvalidExport(f"the zip has no {MANIFEST_NAME}: not a Hallway export") from None
    if manifest.scope.kind not in IMPORTABLE:
        raise InvalidExport(
            f"a {manifest.scope.kind} export cannot be imported: only a company's or a "
            "conversation's"
        )
    if RECORDS_NAME not in manifest.files:
        raise InvalidExport(f"the manifest lists no {RECORDS_NAME}")
    for name, expected in manifest.files.items():
        try:
            actual = _member_sum(archive, name)
        except KeyError:
            raise InvalidExport(f"{name} is listed in the manifest but missing") from None
        if actual != (expected.sha256, expected.size):
            raise InvalidExport(f"{name} does not match its checksum: the export is damaged")
    return manifest


def _member_sum(archive: zipfile.ZipFile, name: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with archive.open(name) as member:
        while chunk := member.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _records(archive: zipfile.ZipFile) -> Iterator[AnyRecord]:
    return read_records(archive.open(RECORDS_NAME))


def _take(records: Iterator[AnyRecord], count: int) -> list[AnyRecord]:
    return list(itertools.islice(records, count))


async def _add(run: _Import, kind: str, records: list[Any]) -> None:
    if kind == "person":
        await _add_people(run, records)
    elif kind == "conversation":
        for record in records:
            await _add_conversation(run, record)
    elif kind == "message":
        await _add_messages(run, records)
    elif kind == "reaction":
        await _add_reactions(run, records)
    # A `company` record: the company is named on the command line.


def _insert_new(conn: Connection, table: Table) -> Insert:
    """An INSERT that skips rows already there (by any unique key)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


async def _add_people(run: _Import, records: Sequence[PersonRecord]) -> None:
    run.people.update(r.id for r in records)
    async with run.ctx.transaction() as tx:
        ids = {run.local("person", r.id): r for r in records}
        present = set(
            (await tx.conn.execute(select(users.c.id).where(users.c.id.in_(ids)))).scalars()
        )
        wanted = {r.email.strip().lower() for r in records}
        taken = set(
            (
                await tx.conn.execute(select(users.c.email).where(users.c.email.in_(wanted)))
            ).scalars()
        )
        rows = []
        for local_id, r in ids.items():
            if local_id in present:
                continue
            email = r.email.strip().lower()
            if r.state == "former":
                email = placeholder_email(local_id)
            elif email in taken or "@" not in email:
                email = f"imported-{local_id}@import.invalid"
                run.summary.skipped["email_taken"] += 1
            taken.add(email)
            rows.append(
                {
                    "id": local_id,
                    "company_id": run.company_id,
                    "email": email,
                    "display_name": FORMER_MEMBER if r.state == "former" else r.display_name,
                    "password_hash": None,
                    "role": r.role,
                    "external_id": None,
                    "created_at": r.created_at,
                    "deactivated_at": tx.now if r.state == "deactivated" else None,
                    "deleted_at": tx.now if r.state == "former" else None,
                }
            )
        if rows:
            await tx.conn.execute(users.insert(), rows)
    run.summary.added["people"] += len(rows)


async def _add_conversation(run: _Import, record: ConversationRecord) -> None:
    local_id = run.local("conversation", record.id)
    run.conversations[record.id] = _Conversation(local_id)
    members = [(run.person(m.user_id), m) for m in record.members]
    known = [(user_id, m) for user_id, m in members if user_id is not None]
    pair = [user_id for user_id, _ in known]
    direct = record.kind == "direct" and len(pair) == 2
    async with run.ctx.transaction() as tx:
        added = await tx.conn.execute(
            _insert_new(tx.conn, conversations).values(
                id=local_id,
                company_id=run.company_id,
                kind=record.kind,
                title=record.title,
                created_by=run.person(record.created_by),
                direct_key=direct_pair_key(*pair) if direct else None,
                channel_key=conversation_channel_key(record.kind, record.title),
                last_seq=0,
                last_activity_at=record.created_at,
                created_at=record.created_at,
            )
        )
        run.summary.added["conversations"] += added.rowcount
        present = set(
            (
                await tx.conn.execute(
                    select(participants.c.user_id).where(participants.c.conversation_id == local_id)
                )
            ).scalars()
        )
        rows = [
            {
                "conversation_id": local_id,
                "user_id": user_id,
                "role": m.role,
                "joined_at": m.joined_at,
                "last_read_seq": 0,
            }
            for user_id, m in known
            if user_id not in present
        ]
        if rows:
            await tx.conn.execute(participants.insert(), rows)
    run.summary.added["members"] += len(rows)


async def _add_messages(run: _Import, records: Sequence[MessageRecord]) -> None:
    """Messages, numbered in their conversation in the order the export has them; those
    imported before are passed over (their numbers are the same every time)."""
    numbered: list[tuple[MessageRecord, _Conversation, int]] = []
    for r in records:
        conversation = run.conversations.get(r.conversation_id)
        if conversation is None:
            run.summary.skipped["message_outside_conversations"] += 1
            continue
        conversation.messages += 1
        last = conversation.last_activity
        conversation.last_activity = r.created_at if last is None else max(last, r.created_at)
        numbered.append((r, conversation, conversation.messages))
    ids = [run.local("message", r.id) for r, _, _ in numbered]
    roots = {run.local("message", r.thread_root_id) for r, _, _ in numbered if r.thread_root_id}
    async with run.ctx.db.read() as conn:
        present = await _present(conn, messages, ids)
        known_roots = await _present(conn, messages, list(roots)) | set(ids)
    rows: dict[str, list[dict[str, Any]]] = {"messages": [], "events": [], "edits": [], "files": []}
    for (r, conversation, seq), local_id in zip(numbered, ids, strict=True):
        if local_id in present:
            continue
        root = run.local("message", r.thread_root_id) if r.thread_root_id else None
        row = {
            "id": local_id,
            "conversation_id": conversation.local_id,
            "seq": seq,
            "sender_id": run.person(r.sender_id),
            "client_msg_id": None,
            "body": "" if r.deleted else r.body,
            "body_html": "" if r.deleted else render_body(r.body),
            "thread_root_id": root if root in known_roots else None,
            "created_at": r.created_at,
            "edited_at": None if r.deleted else r.edited_at,
            "deleted_at": r.deleted_at if r.deleted else None,
            "deleted_by": run.person(r.deleted_by) if r.deleted else None,
            # Counted once every message is in (_finish_conversations).
            "reply_count": 0,
            "last_reply_at": None,
            "reply_user_ids": "",
        }
        files = [] if r.deleted else await _store_files(run, conversation, local_id, r)
        rows["messages"].append(row)
        rows["files"] += files
        rows["events"].append(
            {
                "conversation_id": conversation.local_id,
                "seq": seq,
                "kind": CREATED,
                "payload": message_dict(row, attachment_list=[_event_file(f) for f in files]),
                "created_at": r.created_at,
                "message_id": local_id,
            }
        )
        if not r.deleted:
            rows["edits"] += [
                {
                    "message_id": local_id,
                    "old_body": e.old_body,
                    "edited_by": run.person(e.edited_by),
                    "edited_at": e.edited_at,
                }
                for e in r.edits
            ]
    if not rows["messages"]:
        return
    async with run.ctx.transaction() as tx:
        await tx.conn.execute(messages.insert(), rows["messages"])
        await tx.conn.execute(events.insert(), rows["events"])
        if rows["edits"]:
            await tx.conn.execute(message_edits.insert(), rows["edits"])
        if rows["files"]:
            await tx.conn.execute(attachments.insert(), rows["files"])
    added = run.summary.added
    added["messages"] += len(rows["messages"])
    added["edits"] += len(rows["edits"])
    added["files"] += len(rows["files"])


async def _present(conn: Connection, table: Table, ids: Sequence[str]) -> set[str]:
    """Which of these ids the table has."""
    if not ids:
        return set()
    found = await conn.execute(select(table.c.id).where(table.c.id.in_(ids)))
    return set(found.scalars())


def _event_file(row: dict[str, Any]) -> dict[str, Any]:
    """An attachment as message events keep it (message_views.attachment_dict)."""
    return {k: row[k] for k in ("id", "filename", "content_type", "size", "width", "height")}


async def _store_files(
    run: _Import, conversation: _Conversation, message_id: str, record: MessageRecord
) -> list[dict[str, Any]]:
    """The message's files into storage, thumbnails made again; their attachments rows.
    A file the export does not hold is left out."""
    storage: Storage = run.ctx.storage
    settings = run.ctx.settings
    stored: list[dict[str, Any]] = []
    for a in record.attachments:
        if a.file is None or a.file not in run.names:
            run.summary.skipped["file_not_in_export"] += 1
            continue
        local_id = run.local("attachment", a.id)
        key = f"{run.company_id}/{conversation.local_id}/{local_id}"
        staged = storage.staging_dir / f"import-{os.getpid()}-{uuid.uuid4().hex}"
        thumbnail = staged.with_name(f"{staged.name}.thumbnail")
        try:
            await asyncio.to_thread(_extract, run.archive, a.file, staged)
            thumb_key = None
            if a.content_type in THUMBNAILED_TYPES:
                try:
                    made = await asyncio.to_thread(
                        make_thumbnail,
                        staged,
                        thumbnail,
                        max_px=settings.thumbnail_max_px,
                        max_pixels=settings.max_image_pixels,
                    )
                except ImageTooLarge:
                    made = None
                if made is not None:
                    thumb_key = f"{key}.thumbnail"
                    await storage.put(thumb_key, thumbnail, THUMBNAIL_TYPE)
            await storage.put(key, staged, a.content_type)
        finally:
            for path in (staged, thumbnail):
                await asyncio.to_thread(path.unlink, missing_ok=True)
        stored.append(
            {
                "id": local_id,
                "company_id": run.company_id,
                "conversation_id": conversation.local_id,
                "uploader_id": run.person(a.uploader_id),
                "message_id": message_id,
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256,
                "storage_key": key,
                "thumb_key": thumb_key,
                "width": a.width,
                "height": a.height,
                "created_at": a.created_at,
                "deleted_at": None,
            }
        )
    return stored


def _extract(archive: zipfile.ZipFile, name: str, target: Path) -> None:
    with archive.open(name) as member, target.open("wb") as out:
        shutil.copyfileobj(member, out, 1024 * 1024)


async def _add_reactions(run: _Import, records: Sequence[ReactionRecord]) -> None:
    wanted = {
        (run.local("message", r.message_id), user_id, r.emoji): r.created_at
        for r in records
        if (user_id := run.person(r.user_id)) is not None
    }
    message_ids = list({key[0] for key in wanted})
    async with run.ctx.transaction() as tx:
        there = await _present(tx.conn, messages, message_ids)
        reacted = {
            (row.message_id, row.user_id, row.emoji)
            for row in await tx.conn.execute(
                select(reactions.c.message_id, reactions.c.user_id, reactions.c.emoji).where(
                    reactions.c.message_id.in_(message_ids)
                )
            )
        }
        rows = [
            {"message_id": m, "user_id": u, "emoji": e, "created_at": at}
            for (m, u, e), at in wanted.items()
            if m in there and (m, u, e) not in reacted
        ]
        if rows:
            await tx.conn.execute(reactions.insert(), rows)
    run.summary.added["reactions"] += len(rows)


async def _finish_conversations(run: _Import) -> None:
    """Each conversation's log ends at its last imported message, its members have read
    up to there, and its threads are counted and followed (threads.recount_threads)."""
    async with run.ctx.transaction() as tx:
        await recount_threads(tx.conn, [c.local_id for c in run.conversations.values()])
        for conversation in run.conversations.values():
            row = (
                await tx.conn.execute(
                    select(conversations.c.last_seq, conversations.c.last_activity_at).where(
                        conversations.c.id == conversation.local_id
                    )
                )
            ).one()
            changes: dict[str, Any] = {}
            if row.last_seq < conversation.messages:
                changes["last_seq"] = conversation.messages
            last = conversation.last_activity
            if last is not None and last > row.last_activity_at:
                changes["last_activity_at"] = last
            if changes:
                await tx.conn.execute(
                    update(conversations)
                    .where(conversations.c.id == conversation.local_id)
                    .values(**changes)
                )
            await tx.conn.execute(
                update(participants)
                .where(
                    participants.c.conversation_id == conversation.local_id,
                    participants.c.last_read_seq < conversation.messages,
                )
                .values(last_read_seq=conversation.messages)
            )
