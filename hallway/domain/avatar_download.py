"""Following an avatar's signed link (profiles.py stores avatars, user_views.py signs the
links for the people of the person's company)."""

from __future__ import annotations

from sqlalchemy import select

from hallway.domain.attachment_download import FileDownload, require_valid_link
from hallway.domain.context import DomainContext
from hallway.domain.errors import NotFound
from hallway.files.images import THUMBNAIL_TYPE
from hallway.files.links import avatar_object_id
from hallway.store.acting import as_system
from hallway.store.tables import users


async def resolve_avatar(
    ctx: DomainContext,
    user_id: str,
    version: int,
    *,
    scope: str,
    expires: int,
    signature: str,
) -> FileDownload:
    """A tampered or late link is refused before anything is looked up (403); a valid one
    to an avatar replaced, removed or of a deleted account since is NotFound."""
    require_valid_link(
        ctx,
        "avatar",
        avatar_object_id(user_id, version),
        scope,
        expires,
        signature,
        refresh="load the people again",
    )
    # The link's signature is the authority here, not a person.
    with as_system():
        async with ctx.db.read() as conn:
            row = (
                await conn.execute(
                    select(users.c.avatar_key).where(
                        users.c.id == user_id,
                        users.c.company_id == scope,
                        users.c.avatar_version == version,
                        users.c.avatar_key.is_not(None),
                        users.c.deleted_at.is_(None),
                    )
                )
            ).first()
    if row is None:
        raise NotFound("avatar not found")
    return FileDownload(
        key=row.avatar_key,
        size=None,
        content_type=THUMBNAIL_TYPE,
        filename=f"avatar-{version}.webp",
        inline=True,
        etag=f'"avatar.{user_id}.{version}"',
        expires=expires,
    )
