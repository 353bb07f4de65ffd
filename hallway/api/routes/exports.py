"""Exports: an admin's of the company or a conversation, a person's of what they wrote;
built in the background, downloaded through a signed link (docs/exports.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from hallway.api.deps import Ctx, CurrentActor
from hallway.api.downloads import serve_file
from hallway.api.routes import API_PREFIX, Responses
from hallway.api.routes.files import LINK_ERRORS, Expires, Signature
from hallway.api.schemas import Export, ExportRequest, OwnExportRequest
from hallway.domain import export_jobs

router = APIRouter(prefix=API_PREFIX, tags=["exports"])

_ACCEPTED: Responses = {
    202: {"description": "queued (or the same export, already queued or running)"},
}


def _started(request: Request, export: dict[str, Any], created: bool) -> Export:
    if created:
        request.app.state.exports.start(export["id"])
    return Export.model_validate(export)


@router.post(
    "/exports",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Export,
    responses={**_ACCEPTED, 403: {"description": "`admin_required`"}},
)
async def request_export(
    body: ExportRequest, request: Request, ctx: Ctx, actor: CurrentActor
) -> Export:
    """Export the company, or one of its conversations, in the background (admins only):
    people, conversations with their members, messages with their edit trails (deleted
    ones as tombstones), reactions, threads and attachments with their bytes, in one zip
    (docs/exports.md). Follow its progress with `GET /exports/{id}`. Asking again while
    the same export is queued or running answers that one."""
    export, created = await export_jobs.request_export(
        ctx, actor, body.scope, conversation_id=body.conversation_id, since=body.since
    )
    return _started(request, export, created)


@router.post(
    "/me/export", status_code=status.HTTP_202_ACCEPTED, response_model=Export, responses=_ACCEPTED
)
async def request_own_export(
    request: Request, ctx: Ctx, actor: CurrentActor, body: OwnExportRequest | None = None
) -> Export:
    """Export everything you wrote, in the background: your messages with their edit
    trails, your reactions, your files, and the conversations they are in (with only your
    own membership). Follow it with `GET /exports/{id}`, which only you may see."""
    export, created = await export_jobs.request_export(
        ctx, actor, "person", since=body.since if body is not None else None
    )
    return _started(request, export, created)


@router.get("/exports/{export_id}", response_model=Export)
async def get_export(export_id: str, ctx: Ctx, actor: CurrentActor) -> Export:
    """An export's progress (`queued`, `running` with `messages_written` of
    `messages_total`, `done`, `failed` with its `error`); once done, a signed
    `download_url` that expires after HALLWAY_FILE_LINK_TTL_SECONDS (look again for a
    fresh one). Seen by who asked for it, and by the company's admins unless it is a
    person's own."""
    return Export.model_validate(await export_jobs.get_export(ctx, actor, export_id))


_DOWNLOAD = "/exports/{export_id}/download"
_EXPORT_LINK_ERRORS: Responses = {
    **LINK_ERRORS,
    404: {"description": "no such export, or not done"},
}
Scope = Annotated[str, Query(max_length=64, description="the company the link is for")]


_LINK: dict[str, Any] = {"response_class": Response, "responses": _EXPORT_LINK_ERRORS}


@router.get(_DOWNLOAD, operation_id="download_export", **_LINK)
@router.head(_DOWNLOAD, operation_id="download_export_head", **_LINK)
async def download_export(
    export_id: str,
    request: Request,
    ctx: Ctx,
    scope: Scope,
    expires: Expires,
    signature: Signature,
) -> Response:
    """Follow an export's signed `download_url`: the zip, as an attachment to save.
    Supports `Range` (206, 416) to resume a long download."""
    found = await export_jobs.resolve_export_download(
        ctx, export_id, scope=scope, expires=expires, signature=signature
    )
    return await serve_file(request, ctx.storage, found)
