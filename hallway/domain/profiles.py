"""A person's own profile: display name, a short status (text and one emoji), a time zone
and an avatar.

The avatar is uploaded as attachments are (staged while counted, its type sniffed from its
bytes, decoded and thumbnailed in a thread: hallway/domain/attachment_upload.py), but only
the thumbnail is kept: a small WebP without metadata (no EXIF location). Each upload takes
the next `avatar_version`, so its link differs from the last one's (user_views.py).

Every change is announced to the person's company (`user.updated` on the company's
presence topic): the directory is company-wide, so everyone who can show the person learns
it, as presence reaches them."""

from __future__ import annotations

import asyncio
import functools
import logging
import unicodedata
import zoneinfo
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from hallway.domain.accounts import clean_display_name
from hallway.domain.actor import Actor
from hallway.domain.attachment_upload import (
    UploadSource,
    check_type_accepted,
    remove_staged,
)
from hallway.domain.context import DomainContext
from hallway.domain.errors import InvalidInput, NotFound, TooLarge, UnsupportedMediaType
from hallway.domain.reactions import is_emoji
from hallway.domain.user_views import announce_person, own_row, user_dict
from hallway.files.images import THUMBNAIL_TYPE, THUMBNAILED_TYPES, ImageTooLarge, make_thumbnail
from hallway.files.sniffing import sniff
from hallway.files.staging import UploadTooLarge, stage_upload
from hallway.files.storage import Storage
from hallway.store.tables import users

log = logging.getLogger(__name__)

MAX_STATUS_CHARS = 100
AVATAR_PX = 256  # the stored avatar's longest side
AVATAR_MAX_BYTES = 5 * 1024 * 1024  # what an avatar upload may weigh before it is thumbnailed
# Room in a request body for the multipart framing around the file itself.
_MULTIPART_OVERHEAD_BYTES = 64 * 1024
_UNSET: Any = object()


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def clean_time_zone(name: str) -> str | None:
    """An IANA time zone name ("Europe/Paris"), or None for "" (cleared)."""
    if name == "":
        return None
    if name not in _time_zones():
        raise InvalidInput(
            "the time zone must be an IANA name such as Europe/Paris",
            code="invalid_time_zone",
            field="time_zone",
        )
    return name


def clean_status_text(text: str) -> str | None:
    text = text.strip()
    if len(text) > MAX_STATUS_CHARS:
        raise InvalidInput(
            f"the status may have at most {MAX_STATUS_CHARS} characters", field="status_text"
        )
    hidden = ("Cc", "Cf", "Cs", "Zl", "Zp")
    if any(unicodedata.category(ch) in hidden and ch != "\u200d" for ch in text):
        raise InvalidInput(
            "the status may not hold control or invisible characters", field="status_text"
        )
    return text or None


def clean_status_emoji(emoji: str) -> str | None:
    if emoji == "":
        return None
    if not is_emoji(emoji):
        raise InvalidInput(
            "the status emoji is one emoji (👍, 🇫🇷) or a short name such as :palm_tree:",
            code="invalid_emoji",
            field="status_emoji",
        )
    return emoji


async def _me(ctx: DomainContext, actor: Actor) -> Any:
    async with ctx.db.read() as conn:
        row = (await conn.execute(select(users).where(own_row(actor)))).first()
    if row is None:
        raise NotFound("no such person")
    return row


async def update_profile(
    ctx: DomainContext,
    actor: Actor,
    *,
    display_name: str | None = _UNSET,
    status_text: str | None = _UNSET,
    status_emoji: str | None = _UNSET,
    time_zone: str | None = _UNSET,
) -> dict[str, Any]:
    """Change the given fields of my profile (a field left out stays; "" or null clears
    the status and the time zone). All are checked before anything changes."""
    values: dict[str, Any] = {}
    if display_name is not _UNSET:
        if display_name is None:
            raise InvalidInput("the display name cannot be cleared", field="display_name")
        values["display_name"] = clean_display_name(display_name)
    if status_text is not _UNSET:
        values["status_text"] = clean_status_text(status_text or "")
    if status_emoji is not _UNSET:
        values["status_emoji"] = clean_status_emoji(status_emoji or "")
    if time_zone is not _UNSET:
        values["time_zone"] = clean_time_zone(time_zone or "")
    if not values:
        return user_dict(await _me(ctx, actor), ctx.links)
    async with ctx.transaction() as tx:
        row = (
            await tx.conn.execute(
                update(users).where(own_row(actor)).values(**values).returning(*users.c)
            )
        ).first()
    if row is None:
        raise NotFound("no such person")
    person = user_dict(row, ctx.links)
    await announce_person(ctx, person)
    return person


def avatar_body_bytes() -> int:
    """The most a request to upload an avatar may carry."""
    return AVATAR_MAX_BYTES + _MULTIPART_OVERHEAD_BYTES


async def set_avatar(ctx: DomainContext, actor: Actor, source: UploadSource) -> dict[str, Any]:
    """Store an uploaded image as my avatar (a PNG, JPEG, GIF or WebP, as its bytes say),
    replacing the one before."""
    await ctx.rate_limits.hit(ctx.rate_limits.upload, actor.user_id)
    storage: Storage = ctx.storage
    if source.declared_size is not None and source.declared_size > avatar_body_bytes():
        raise _avatar_too_large()
    await source.filename()  # the name is not kept: the avatar is the person's, not a file
    try:
        staged = await stage_upload(
            source.chunks(), storage.staging_dir, max_bytes=AVATAR_MAX_BYTES
        )
    except UploadTooLarge:
        raise _avatar_too_large() from None
    thumbnail = staged.path.with_name(staged.path.name + ".avatar")
    try:
        if staged.size == 0:
            raise InvalidInput("the file is empty", code="empty_file", field="file")
        content_type = sniff(staged.head)
        check_type_accepted(ctx.settings, content_type)
        if content_type not in THUMBNAILED_TYPES:
            raise _not_an_image(content_type)
        try:
            image = await asyncio.to_thread(
                make_thumbnail,
                staged.path,
                thumbnail,
                max_px=AVATAR_PX,
                max_pixels=ctx.settings.max_image_pixels,
            )
        except ImageTooLarge:
            raise InvalidInput(
                f"an image may have at most {ctx.settings.max_image_pixels} pixels",
                code="image_too_large",
                field="file",
            ) from None
        if image is None:
            raise _not_an_image(content_type)
        return await _store_avatar(ctx, actor, storage, thumbnail)
    finally:
        await asyncio.to_thread(remove_staged, staged.path, thumbnail)


async def _store_avatar(
    ctx: DomainContext, actor: Actor, storage: Storage, thumbnail: Path
) -> dict[str, Any]:
    before = await _me(ctx, actor)
    version = int(before.avatar_version) + 1
    key = f"{actor.company_id}/avatars/{actor.user_id}/{version}"
    await storage.put(key, thumbnail, THUMBNAIL_TYPE)
    try:
        async with ctx.transaction() as tx:
            # The version is checked again: of two uploads racing, the later commit would
            # otherwise point at an object the other one then deletes.
            row = (
                await tx.conn.execute(
                    update(users)
                    .where(own_row(actor), users.c.avatar_version == version - 1)
                    .values(avatar_key=key, avatar_version=version)
                    .returning(*users.c)
                )
            ).first()
    except BaseException:
        await _delete_quietly(storage, [key])
        raise
    if row is None:
        await _delete_quietly(storage, [key])
        raise InvalidInput("another avatar upload came first; try again", code="avatar_changed")
    if before.avatar_key is not None:
        await _delete_quietly(storage, [before.avatar_key])
    person = user_dict(row, ctx.links)
    await announce_person(ctx, person)
    return person


async def remove_avatar(ctx: DomainContext, actor: Actor) -> dict[str, Any]:
    """No avatar any more (the initials show instead); its stored image is deleted."""
    before = await _me(ctx, actor)
    if before.avatar_key is None:
        return user_dict(before, ctx.links)
    async with ctx.transaction() as tx:
        row = (
            await tx.conn.execute(
                update(users)
                .where(own_row(actor))
                .values(avatar_key=None, avatar_version=users.c.avatar_version + 1)
                .returning(*users.c)
            )
        ).one()
    await _delete_quietly(ctx.storage, [before.avatar_key])
    person = user_dict(row, ctx.links)
    await announce_person(ctx, person)
    return person


async def delete_avatar_image(storage: Storage, key: str) -> None:
    """Delete an avatar's stored image no row points at any more (best effort: a failure
    is logged, and the image is unreachable anyway)."""
    await _delete_quietly(storage, [key])


async def _delete_quietly(storage: Storage, keys: list[str]) -> None:
    try:
        await storage.delete(keys)
    except Exception:
        log.exception("deleting an avatar's stored image failed")


def _avatar_too_large() -> TooLarge:
    return TooLarge(
        f"an avatar may have at most {AVATAR_MAX_BYTES} bytes",
        code="file_too_large",
        limit=AVATAR_MAX_BYTES,
    )


def _not_an_image(content_type: str) -> UnsupportedMediaType:
    return UnsupportedMediaType(
        "an avatar is a PNG, JPEG, GIF or WebP image",
        code="not_an_image",
        content_type=content_type,
    )
