"""Writing an export: its records, then (for a full export) one zip of the records, the
files and the manifest (docs/exports.md).

The zip stores its members as they are (no second compression): the records are gzip
already and most files are compressed formats. Disk work runs in threads, so an export
being written in a server never holds up its event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import zipfile
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from hallway.exports import rows
from hallway.exports.format import (
    MANIFEST_NAME,
    RECORDS_NAME,
    FileSum,
    Manifest,
    Record,
    RecordsWriter,
    Scope,
    attachment_path,
    file_sum,
)
from hallway.files.storage import ObjectMissing, Storage
from hallway.store.database import Database
from hallway.store.types import utcnow

Progress = Callable[[int, int], Awaitable[None]]
"""Told (messages written, messages in the scope) as the export goes."""


@dataclass
class RecordsWritten:
    counts: Counter[str] = field(default_factory=Counter)
    files: list[rows.StoredFile] = field(default_factory=list)


async def write_records(
    db: Database,
    scope: Scope,
    target: Path,
    *,
    with_files: bool,
    progress: Progress | None = None,
) -> RecordsWritten:
    """The scope's records into `target` (gzip'd JSON Lines): the company, its people and
    conversations first, then the messages in pages, each followed by its reactions."""
    async with db.read() as conn:
        ids = await rows.conversation_ids(conn, scope)
        total = await rows.count_messages(conn, scope, ids)
        company = await rows.company_record(conn, scope) if scope.kind == "company" else None
        people = await rows.people(conn, scope)
        conversations = await rows.conversation_records(conn, scope, ids)
    done = RecordsWritten()
    done.counts.update(people=len(people), conversations=len(conversations))
    writer = await asyncio.to_thread(RecordsWriter, target)
    try:
        head: list[Record] = [*([company] if company else []), *people, *conversations]
        await asyncio.to_thread(writer.write, head)
        if progress is not None:
            await progress(0, total)
        async for page in rows.message_pages(db, scope, ids, with_files=with_files):
            await asyncio.to_thread(writer.write, [*page.messages, *page.reactions])
            _count_page(done.counts, page)
            done.files += page.files
            if progress is not None:
                await progress(done.counts["messages"], total)
        if scope.kind == "person":
            async for reactions in rows.own_reactions(db, scope):
                await asyncio.to_thread(writer.write, reactions)
                done.counts["reactions"] += len(reactions)
    finally:
        await asyncio.to_thread(writer.close)
    return done


def _count_page(counts: Counter[str], page: rows.Page) -> None:
    counts["messages"] += len(page.messages)
    counts["reactions"] += len(page.reactions)
    for message in page.messages:
        counts["deleted_messages"] += message.deleted
        counts["edits"] += len(message.edits)
        counts["attachments"] += len(message.attachments)


async def write_export(
    db: Database,
    storage: Storage,
    scope: Scope,
    target: Path,
    *,
    progress: Progress | None = None,
) -> Manifest:
    """A full export as one zip at `target`: manifest.json, hallway.jsonl.gz and every
    attachment's bytes under files/. A file that fails midway leaves no zip behind."""
    records = target.with_name(f"{target.name}.records")
    try:
        written = await write_records(db, scope, records, with_files=True, progress=progress)
        archive = await asyncio.to_thread(
            zipfile.ZipFile, target, "w", zipfile.ZIP_STORED, allowZip64=True
        )
        try:
            sums, missing = await _add_files(archive, storage, written.files)
            sums[RECORDS_NAME] = await asyncio.to_thread(file_sum, records)
            await asyncio.to_thread(archive.write, records, RECORDS_NAME)
            written.counts["files"] = len(written.files) - len(missing)
            manifest = Manifest(
                scope=scope,
                includes_files=True,
                counts=dict(sorted(written.counts.items())),
                created_at=utcnow(),
                files=dict(sorted(sums.items())),
                missing_files=missing,
            )
            await asyncio.to_thread(archive.writestr, MANIFEST_NAME, manifest.to_json())
        finally:
            await asyncio.to_thread(archive.close)
    except BaseException:
        await asyncio.to_thread(target.unlink, missing_ok=True)
        raise
    finally:
        await asyncio.to_thread(records.unlink, missing_ok=True)
    return manifest


async def _add_files(
    archive: zipfile.ZipFile, storage: Storage, files: list[rows.StoredFile]
) -> tuple[dict[str, FileSum], list[str]]:
    """Each file's bytes from storage into the zip, hashed on the way; the ids of those
    storage no longer has."""
    sums: dict[str, FileSum] = {}
    missing: list[str] = []
    for stored in files:
        name = attachment_path(stored.attachment_id)
        try:
            chunks = await storage.open(stored.storage_key, 0, stored.size)
        except ObjectMissing:
            missing.append(stored.attachment_id)
            continue
        digest = hashlib.sha256()
        size = 0
        member = await asyncio.to_thread(archive.open, name, "w", force_zip64=True)
        try:
            async for chunk in chunks:
                size += len(chunk)
                await asyncio.to_thread(_write_hashed, member, digest.update, chunk)
        finally:
            await asyncio.to_thread(member.close)
        sums[name] = FileSum(sha256=digest.hexdigest(), size=size)
    return sums, missing


def _write_hashed(member: IO[bytes], hash_update: Callable[[bytes], None], chunk: bytes) -> None:
    hash_update(chunk)
    member.write(chunk)
