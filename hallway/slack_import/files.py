"""A file the export holds, stored as an upload is (hallway/domain/attachment_upload.py):
staged, counted and hashed, its type sniffed from its bytes, images thumbnailed, then put
in the storage backend. The import's limits are the server's: a file an upload would be
refused is refused here too."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from hallway.config import Settings
from hallway.domain.attachment_upload import inspect_staged, put_objects, remove_staged
from hallway.domain.errors import InvalidInput, UnsupportedMediaType
from hallway.files.staging import UploadTooLarge, stage_upload
from hallway.files.storage import Storage
from hallway.slack_import.export import SlackExport

READ_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class StoredFile:
    content_type: str
    size: int
    sha256: str
    thumb_key: str | None
    width: int | None
    height: int | None


async def _chunks(export: SlackExport, member: str) -> AsyncIterator[bytes]:
    with export.open_member(member) as source:
        while chunk := source.read(READ_BYTES):
            yield chunk


async def store_file(
    settings: Settings, storage: Storage, export: SlackExport, member: str, key: str
) -> StoredFile | None:
    """Store the zip member's bytes under `key`; None when the server would refuse it."""
    try:
        staged = await stage_upload(
            _chunks(export, member), storage.staging_dir, max_bytes=settings.max_upload_bytes
        )
    except UploadTooLarge:
        return None
    thumbnail = staged.path.with_name(staged.path.name + ".thumbnail")
    try:
        try:
            content_type, image = await inspect_staged(settings, staged, thumbnail)
        except (InvalidInput, UnsupportedMediaType):
            return None
        thumb_key = await put_objects(
            storage, key, staged.path, content_type, thumbnail if image else None
        )
    finally:
        await asyncio.to_thread(remove_staged, staged.path, thumbnail)
    return StoredFile(
        content_type=content_type,
        size=staged.size,
        sha256=staged.sha256,
        thumb_key=thumb_key,
        width=image.width if image else None,
        height=image.height if image else None,
    )
