"""Files: upload into a conversation, download through signed links."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from hallway.api.deps import Ctx, CurrentActor
from hallway.api.downloads import serve_file
from hallway.api.multipart_upload import ONE_FILE_BODY, MultipartUpload
from hallway.api.routes import API_PREFIX, RATE_LIMITED, Responses
from hallway.api.schemas import Attachment
from hallway.domain import attachment_download, attachment_upload
from hallway.files.links import Variant

router = APIRouter(prefix=API_PREFIX, tags=["files"])

LINK_ERRORS: Responses = {
    403: {"description": "`invalid_link` (tampered) or `link_expired`"},
    404: {"description": "the file is gone (its message was deleted)"},
    416: {"description": "the range lies outside the file"},
}


@router.post(
    "/conversations/{conversation_id}/attachments",
    status_code=status.HTTP_201_CREATED,
    response_model=Attachment,
    openapi_extra={"requestBody": ONE_FILE_BODY},
    responses={
        413: {"description": "`file_too_large`"},
        415: {"description": "`blocked_content_type`, `multipart_required`"},
        **RATE_LIMITED,
    },
)
async def upload_attachment(
    conversation_id: str, request: Request, ctx: Ctx, actor: CurrentActor
) -> Any:
    """Upload one file (multipart field `file`) into a conversation you take part in, then
    send it by listing its id in a message's `attachment_ids`. Its type is sniffed from its
    bytes; images get a thumbnail. An upload not sent within the orphan TTL is removed."""
    declared = request.headers.get("content-length", "")
    upload = MultipartUpload(
        request.stream(),
        request.headers.get("content-type", ""),
        int(declared) if declared.isdigit() else None,
        field="file",
        max_body_bytes=attachment_upload.max_body_bytes(ctx.settings),
    )
    return await attachment_upload.upload_attachment(ctx, actor, conversation_id, upload)


Scope = Annotated[str, Query(max_length=64, description="the conversation the link is for")]
Expires = Annotated[int, Query(ge=0, description="when the link expires (Unix seconds)")]
Signature = Annotated[str, Query(max_length=128)]


_DOWNLOAD = "/files/{attachment_id}/{variant}"


@router.get(_DOWNLOAD, response_class=Response, responses=LINK_ERRORS, operation_id="download_file")
@router.head(
    _DOWNLOAD, response_class=Response, responses=LINK_ERRORS, operation_id="download_file_head"
)
async def download(
    attachment_id: str,
    variant: Variant,
    request: Request,
    ctx: Ctx,
    scope: Scope,
    expires: Expires,
    signature: Signature,
) -> Response:
    """Follow a signed link found in a message: `file` (its `url`) or an image's
    `thumbnail` (its `thumbnail_url`, WebP, at most `thumbnail_max_px` a side). Supports
    `Range` (206, 416), `If-None-Match` (304) and `If-Range`. Images are served inline,
    everything else as an attachment to save."""
    found = await attachment_download.resolve_download(
        ctx, variant, attachment_id, scope=scope, expires=expires, signature=signature
    )
    return await serve_file(request, ctx.storage, found)
