"""Uploading a file into a conversation, safe against hostile files.

The body streams to a staging file (never whole in memory) while it is counted and hashed;
its type is sniffed from its bytes; images are decoded and thumbnailed in a worker thread.
The row is written first, marked for removal, and unmarked only once every object is
stored: whatever fails, or crashes, leaves nothing the orphan sweeper will not remove.
"""

from __future__ import annotations

import asyncio
import os
import re
import unicodedata
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import update

from hallway.config import Settings
from hallway.domain.access import conversation_for_member
from hallway.domain.actor import Actor
from hallway.domain.attachment_cleanup import purge_soon
from hallway.domain.attachment_links import attachment_with_links
from hallway.domain.context import DomainContext
from hallway.domain.errors import InvalidInput, TooLarge, UnsupportedMediaType
from hallway.domain.message_views import attachment_dict
from hallway.files.images import (
    THUMBNAIL_TYPE,
    THUMBNAILED_TYPES,
    ImageInfo,
    ImageTooLarge,
    make_thumbnail,
)
from hallway.files.sniffing import OCTET_STREAM, sniff
from hallway.files.staging import StagedFile, UploadTooLarge, stage_upload
from hallway.files.storage import Storage
from hallway.store.tables import attachments

# Room in a request body for the multipart framing around the file itself.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
MAX_FILENAME_CHARS = 255


class UploadSource(Protocol):
    """One file arriving in a request body."""

    @property
    def declared_size(self) -> int | None:
        """The whole body's length, when the client declared it."""
        ...

    async def filename(self) -> str:
        """Read the body up to the file's own headers; the name the client gave it."""
        ...

    def chunks(self) -> AsyncIterator[bytes]:
        """The file's bytes; raises InvalidInput if the body ends before the file does."""
        ...


def max_body_bytes(settings: Settings) -> int:
    return settings.max_upload_bytes + MULTIPART_OVERHEAD_BYTES


def too_large(settings: Settings) -> TooLarge:
    limit = settings.max_upload_bytes
    return TooLarge(f"a file may have at most {limit} bytes", code="file_too_large", limit=limit)


def clean_filename(name: str) -> str:
    """The client's name for the file, fit to show: no path, no control or bidi characters.
    It is metadata only and never part of a storage key."""
    name = unicodedata.normalize("NFC", re.split(r"[/\\]", name)[-1])
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    if len(name) > MAX_FILENAME_CHARS:
        extension = os.path.splitext(name)[1]  # kept, so the shortened name still opens
        extension = extension if len(extension) <= 16 else ""
        name = name[: MAX_FILENAME_CHARS - len(extension)] + extension
    return name or "file"


def check_type_accepted(settings: Settings, content_type: str) -> None:
    allowed = settings.allowed_content_types
    if _matches(content_type, settings.blocked_content_types) or (
        allowed and not _matches(content_type, allowed)
    ):
        raise UnsupportedMediaType(
            f"files of type {content_type} are not accepted",
            code="blocked_content_type",
            content_type=content_type,
        )


def _matches(content_type: str, patterns: list[str]) -> bool:
    """`image/png` matches itself and `image/*`."""
    family = content_type.split("/", 1)[0] + "/*"
    return content_type in patterns or family in patterns


async def upload_attachment(
    ctx: DomainContext, actor: Actor, conversation_id: str, source: UploadSource
) -> dict[str, Any]:
    """Store a file in a conversation the actor takes part in; it waits, unsent, for a
    message to claim it (see claim_attachments) until the orphan sweeper removes it."""
    await ctx.rate_limits.hit(ctx.rate_limits.upload, actor.user_id)
    settings = ctx.settings
    storage: Storage = ctx.storage
    async with ctx.db.read() as conn:
        await conversation_for_member(conn, actor, conversation_id)
    if source.declared_size is not None and source.declared_size > max_body_bytes(settings):
        raise too_large(settings)
    filename = clean_filename(await source.filename())
    try:
        staged = await stage_upload(
            source.chunks(), storage.staging_dir, max_bytes=settings.max_upload_bytes
        )
    except UploadTooLarge:
        raise too_large(settings) from None
    thumbnail = staged.path.with_name(staged.path.name + ".thumbnail")
    try:
        return await _store(ctx, actor, conversation_id, filename, staged, thumbnail)
    finally:
        await asyncio.to_thread(remove_staged, staged.path, thumbnail)


async def inspect_staged(
    settings: Settings, staged: StagedFile, thumbnail: Path
) -> tuple[str, ImageInfo | None]:
    """The file's content type, and for an image its size (its thumbnail is then written).
    Raises InvalidInput or UnsupportedMediaType for a file not accepted."""
    if staged.size == 0:
        raise InvalidInput("the file is empty", code="empty_file", field="file")
    content_type = sniff(staged.head)
    check_type_accepted(settings, content_type)
    if content_type not in THUMBNAILED_TYPES:
        return content_type, None
    try:
        image = await asyncio.to_thread(
            make_thumbnail,
            staged.path,
            thumbnail,
            max_px=settings.thumbnail_max_px,
            max_pixels=settings.max_image_pixels,
        )
    except ImageTooLarge:
        raise InvalidInput(
            f"an image may have at most {settings.max_image_pixels} pixels",
            code="image_too_large",
            field="file",
        ) from None
    if image is None:
        # Not decodable (corrupt, truncated): kept as plain bytes, never shown inline.
        check_type_accepted(settings, OCTET_STREAM)
        return OCTET_STREAM, None
    return image.content_type, image


async def _store(
    ctx: DomainContext,
    actor: Actor,
    conversation_id: str,
    filename: str,
    staged: StagedFile,
    thumbnail: Path,
) -> dict[str, Any]:
    content_type, image = await inspect_staged(ctx.settings, staged, thumbnail)
    storage: Storage = ctx.storage
    attachment_id = str(uuid.uuid4())
    key = f"{actor.company_id}/{conversation_id}/{attachment_id}"
    thumb_key = thumbnail_key(key) if image else None
    async with ctx.transaction() as tx:
        # Checked again: the uploader may have left while the bytes streamed in.
        await conversation_for_member(tx.conn, actor, conversation_id)
        await tx.conn.execute(
            attachments.insert().values(
                id=attachment_id,
                company_id=actor.company_id,
                conversation_id=conversation_id,
                uploader_id=actor.user_id,
                message_id=None,
                filename=filename,
                content_type=content_type,
                size=staged.size,
                sha256=staged.sha256,
                storage_key=key,
                thumb_key=thumb_key,
                width=image.width if image else None,
                height=image.height if image else None,
                created_at=tx.now,
                deleted_at=tx.now,  # until every object is stored
            )
        )
    try:
        await put_objects(storage, key, staged.path, content_type, thumbnail if image else None)
        async with ctx.db.write() as conn:
            stored = (
                await conn.execute(
                    update(attachments)
                    .where(attachments.c.id == attachment_id)
                    .values(deleted_at=None)
                    .returning(*attachments.c)
                )
            ).one()
    except BaseException:
        await purge_soon(ctx, [attachment_id])
        raise
    links = ctx.links
    return attachment_with_links(links, conversation_id, attachment_dict(stored))


async def put_objects(
    storage: Storage, key: str, path: Path, content_type: str, thumbnail: Path | None
) -> str | None:
    """Store a staged file under `key`, and its thumbnail (when it has one) beside it; the
    thumbnail's key."""
    await storage.put(key, path, content_type)
    if thumbnail is None:
        return None
    thumb_key = thumbnail_key(key)
    await storage.put(thumb_key, thumbnail, THUMBNAIL_TYPE)
    return thumb_key


def thumbnail_key(key: str) -> str:
    return f"{key}.thumbnail"


def remove_staged(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
