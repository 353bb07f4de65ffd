"""My profile (name, status, time zone, avatar) and the avatars' signed links."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from hallway.api.deps import Ctx, CurrentActor
from hallway.api.downloads import serve_file
from hallway.api.multipart_upload import ONE_FILE_BODY, MultipartUpload
from hallway.api.routes import API_PREFIX, RATE_LIMITED
from hallway.api.schemas import ProfileRequest, User
from hallway.domain import avatar_download, profiles

router = APIRouter(prefix=API_PREFIX, tags=["people"])


@router.patch("/me/profile", response_model=User)
async def update_profile(body: ProfileRequest, ctx: Ctx, actor: CurrentActor) -> Any:
    """Change the fields given of my profile: `display_name` (1..100), `status_text` (at
    most 100), `status_emoji` (one emoji), `time_zone` (an IANA name); "" or null clears a
    status or the time zone. Announced to the company as `user.updated`."""
    fields = body.model_dump(exclude_unset=True)
    return await profiles.update_profile(ctx, actor, **fields)


@router.put(
    "/me/avatar",
    response_model=User,
    openapi_extra={"requestBody": ONE_FILE_BODY},
    responses={
        413: {"description": "`file_too_large`"},
        415: {"description": "`not_an_image`, `blocked_content_type`, `multipart_required`"},
        **RATE_LIMITED,
    },
)
async def set_avatar(request: Request, ctx: Ctx, actor: CurrentActor) -> Any:
    """Upload my avatar (multipart field `file`, as attachments are uploaded): a PNG, JPEG,
    GIF or WebP image, as its bytes say, of at most 5 MiB; it is kept as a WebP of at most
    256 px a side, without metadata. Announced to the company as `user.updated`."""
    declared = request.headers.get("content-length", "")
    upload = MultipartUpload(
        request.stream(),
        request.headers.get("content-type", ""),
        int(declared) if declared.isdigit() else None,
        field="file",
        max_body_bytes=profiles.avatar_body_bytes(),
    )
    return await profiles.set_avatar(ctx, actor, upload)


@router.delete("/me/avatar", response_model=User)
async def remove_avatar(ctx: Ctx, actor: CurrentActor) -> Any:
    """No avatar any more: clients show initials. Announced as `user.updated`."""
    return await profiles.remove_avatar(ctx, actor)


_AVATAR = "/avatars/{user_id}/{version}"
_LINK_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "`invalid_link` (tampered) or `link_expired`"},
    404: {"description": "the avatar was replaced or removed since"},
    416: {"description": "the range lies outside the image"},
}


@router.get(_AVATAR, response_class=Response, responses=_LINK_ERRORS)
async def download_avatar(
    user_id: Annotated[str, Path(max_length=36)],
    version: Annotated[int, Path(ge=1, le=2**31 - 1)],
    request: Request,
    ctx: Ctx,
    scope: Annotated[str, Query(max_length=64, description="the person's company")],
    expires: Annotated[int, Query(ge=0, description="when the link expires (Unix seconds)")],
    signature: Annotated[str, Query(max_length=128)],
) -> Response:
    """Follow a person's `avatar_url`: their avatar as a WebP image. The link is signed for
    the people of their company and expires as file links do (load the people again for a
    fresh one)."""
    found = await avatar_download.resolve_avatar(
        ctx, user_id, version, scope=scope, expires=expires, signature=signature
    )
    return await serve_file(request, ctx.storage, found)
