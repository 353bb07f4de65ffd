"""Following a signed link: which stored object it opens, and how it is to be served."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from sqlalchemy import select

from hallway.domain.context import DomainContext
from hallway.domain.errors import Forbidden, NotFound
from hallway.files.images import THUMBNAIL_TYPE, THUMBNAILED_TYPES
from hallway.files.links import LinkCheck, Signed, Variant
from hallway.store.acting import as_system
from hallway.store.tables import attachments


@dataclass(frozen=True, slots=True)
class FileDownload:
    key: str
    size: int | None  # None: ask storage (thumbnail sizes are not recorded)
    content_type: str
    filename: str
    inline: bool  # shown in the browser (images) rather than saved
    etag: str
    expires: int  # the link's expiry: how long a response may be cached


def require_valid_link(
    ctx: DomainContext,
    kind: Signed,
    object_id: str,
    scope: str,
    expires: int,
    signature: str,
    *,
    refresh: str,
) -> None:
    """Forbidden for a tampered link (`invalid_link`) or a late one (`link_expired`, which
    says how to get a fresh one: `refresh`)."""
    verdict = ctx.links.check(kind, object_id, scope, expires, signature, time.time())
    if verdict is LinkCheck.INVALID:
        raise Forbidden("the link is not valid", code="invalid_link")
    if verdict is LinkCheck.EXPIRED:
        raise Forbidden(f"the link has expired; {refresh} for a fresh one", code="link_expired")


async def resolve_download(
    ctx: DomainContext,
    variant: Variant,
    attachment_id: str,
    *,
    scope: str,
    expires: int,
    signature: str,
) -> FileDownload:
    """A tampered link is refused before anything is looked up (403 `invalid_link`), an
    expired one too (403 `link_expired`: fetch the message again for a fresh link). A valid
    link to a file that has since gone (deleted message, purged upload) is NotFound."""
    require_valid_link(
        ctx, variant, attachment_id, scope, expires, signature, refresh="fetch the message again"
    )
    # The link's signature is the authority here, not a person.
    with as_system():
        async with ctx.db.read() as conn:
            row = (
                await conn.execute(
                    select(attachments).where(
                        attachments.c.id == attachment_id,
                        attachments.c.conversation_id == scope,
                        attachments.c.deleted_at.is_(None),
                    )
                )
            ).first()
    if row is None or (variant == "thumbnail" and row.thumb_key is None):
        raise NotFound("file not found")
    if variant == "thumbnail":
        stem = os.path.splitext(row.filename)[0]
        return FileDownload(
            key=row.thumb_key,
            size=None,
            content_type=THUMBNAIL_TYPE,
            filename=f"{stem}.thumbnail.webp",
            inline=True,
            etag=f'"{row.sha256}.thumbnail"',
            expires=expires,
        )
    return FileDownload(
        key=row.storage_key,
        size=int(row.size),
        content_type=row.content_type,
        filename=row.filename,
        inline=row.content_type in THUMBNAILED_TYPES,
        etag=f'"{row.sha256}"',
        expires=expires,
    )
