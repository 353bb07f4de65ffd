"""A company's messages of one UTC day, archived through file storage before retention
erases them (docs/exports.md, "Daily archives").

Two objects under stable keys: `archives/<company_id>/<YYYY-MM-DD>.jsonl.gz` (the export
format's records: the company's people, the conversations with messages that day, those
messages with their edits, reactions and attachments' metadata, no file bytes) and then
`archives/<company_id>/<YYYY-MM-DD>.manifest.json`, whose presence says the archive is
complete. The first complete archive of a day stays: a later call returns its manifest and
writes nothing, so a retention run that is retried after it erased part of the day never
replaces archived messages with their tombstones. The same messages give the same bytes
(records in a fixed order, a gzip header without time or name).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from hallway.domain.context import DomainContext
from hallway.exports.format import Manifest, Scope, file_sum
from hallway.exports.writer import write_records
from hallway.files.storage import ObjectMissing, Storage
from hallway.store.types import utcnow

ARCHIVE_PREFIX = "archives"


@dataclass(frozen=True, slots=True)
class ArchiveManifest:
    """A day's archive: where its two objects are, and its manifest (counts, checksum)."""

    records_key: str
    manifest_key: str
    manifest: Manifest
    written: bool
    """False: the day was archived before and this call wrote nothing."""


def day_keys(company_id: str, day: date) -> tuple[str, str]:
    """The storage keys of a day's records and of its manifest."""
    stem = f"{ARCHIVE_PREFIX}/{company_id}/{day.isoformat()}"
    return f"{stem}.jsonl.gz", f"{stem}.manifest.json"


async def write_day_archive(ctx: DomainContext, company_id: str, day: date) -> ArchiveManifest:
    """Archive the company's messages created on `day` (UTC), unless that day's archive is
    complete already; either way, the archive's manifest."""
    storage: Storage = ctx.storage
    records_key, manifest_key = day_keys(company_id, day)
    existing = await read_object(storage, manifest_key)
    if existing is not None:
        return ArchiveManifest(records_key, manifest_key, Manifest.from_json(existing), False)
    scope = Scope(kind="day", company_id=company_id, day=day)
    staged = _staging_path(storage, "jsonl.gz")
    manifest_file = _staging_path(storage, "json")
    try:
        written = await write_records(ctx.db, scope, staged, with_files=False)
        records_name = records_key.rsplit("/", 1)[1]
        manifest = Manifest(
            scope=scope,
            includes_files=False,
            counts=dict(sorted(written.counts.items())),
            created_at=utcnow(),
            files={records_name: await asyncio.to_thread(file_sum, staged)},
        )
        await asyncio.to_thread(manifest_file.write_bytes, manifest.to_json())
        await storage.put(records_key, staged, "application/gzip")
        # Last: a manifest in storage means its records are there whole.
        await storage.put(manifest_key, manifest_file, "application/json")
    finally:
        for path in (staged, manifest_file):
            await asyncio.to_thread(path.unlink, missing_ok=True)
    return ArchiveManifest(records_key, manifest_key, manifest, True)


async def read_object(storage: Storage, key: str) -> bytes | None:
    """A small stored object whole (a manifest); None when there is none."""
    try:
        size = await storage.size(key)
        chunks = await storage.open(key, 0, size)
    except ObjectMissing:
        return None
    return b"".join([chunk async for chunk in chunks])


def _staging_path(storage: Storage, suffix: str) -> Path:
    return storage.staging_dir / f"archive-{os.getpid()}-{uuid.uuid4().hex}.{suffix}"
