"""Messages: send, history windows, threads, and the event catch-up feed."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request, Response, status

from hallway.api import parsed_request
from hallway.api.deps import Ctx, CurrentActor
from hallway.api.routes import API_PREFIX, RATE_LIMITED, Cursor
from hallway.api.schemas import (
    EditMessageRequest,
    EventPage,
    HistoryWindowQuery,
    Message,
    MessageEdits,
    MessagePage,
    SendMessageRequest,
    Thread,
)
from hallway.domain import (
    events,
    message_delete,
    message_edit,
    message_history,
    message_send,
    reactions,
)
from hallway.domain.reactions import MAX_EMOJI_CHARS

router = APIRouter(prefix=API_PREFIX, tags=["messages"])
_DELETED: dict[str, Any] = {"description": "`message_deleted`"}
# The rule is the domain's (hallway/domain/reactions.py), which answers `invalid_emoji`:
# documented here, not checked twice.
Emoji = Annotated[
    str,
    Path(
        description="one emoji (👍, 👍🏽, 🇫🇷) or a short name such as `:thumbs_up:` (1..32 of "
        "a-z, 0-9, `_`, `+`, `-` between colons); no control, bidi or other invisible "
        "character",
        json_schema_extra={"minLength": 1, "maxLength": MAX_EMOJI_CHARS},
    ),
]
_ARCHIVED = {"description": "`conversation_archived`: the channel is archived (read-only)"}


def _json(content: Any, status_code: int = status.HTTP_200_OK) -> Response:
    """The hot routes' answer, serialised by orjson straight from the domain's dicts.

    FastAPI neither validates nor re-serialises a returned Response (which would cost more
    than the queries); the route's response_model still documents it, and
    tests/test_schemas.py checks the real answers against that documentation."""
    body = orjson.dumps(content, option=orjson.OPT_UTC_Z)
    return Response(body, status_code=status_code, media_type="application/json")


# Sends and history windows are most of the requests: they read their request themselves
# (hallway/api/parsed_request.py).
@router.post(
    "/conversations/{conversation_id}/messages",
    status_code=status.HTTP_201_CREATED,
    response_model=Message,
    responses={
        200: {"model": Message, "description": "client_msg_id seen before: the original"},
        409: _ARCHIVED,
        **RATE_LIMITED,
    },
    openapi_extra=parsed_request.documented(path=("conversation_id",), body=SendMessageRequest),
)
async def send_message(request: Request) -> Response:
    """Send a message (text, uploaded attachments, or both). Repeating a `client_msg_id`
    returns the message it created (200) instead of a duplicate."""
    conversation_id = parsed_request.path_parameter(request, "conversation_id")
    actor = await parsed_request.actor(request)
    body = await parsed_request.json_body(request, SendMessageRequest)
    message, created = await message_send.send_message(
        parsed_request.context(request),
        actor,
        conversation_id,
        body=body.body,
        client_msg_id=body.client_msg_id,
        attachment_ids=body.attachment_ids,
        thread_root_id=body.thread_root_id,
    )
    return _json(message, status.HTTP_201_CREATED if created else status.HTTP_200_OK)


@router.get(
    "/conversations/{conversation_id}/messages",
    response_model=MessagePage,
    openapi_extra=parsed_request.documented(path=("conversation_id",), query=HistoryWindowQuery),
)
async def message_history_page(request: Request) -> Response:
    """A window of history, oldest first: the newest `limit` messages, or those before the
    `before` cursor (the `next_cursor` of the previous window)."""
    conversation_id = parsed_request.path_parameter(request, "conversation_id")
    actor = await parsed_request.actor(request)
    window = parsed_request.query(request, HistoryWindowQuery)
    page = await message_history.message_page(
        parsed_request.context(request),
        actor,
        conversation_id,
        limit=window.limit,
        before=window.before,
    )
    return _json(
        {
            "messages": page.messages,
            "next_cursor": page.next_cursor,
            "has_more": page.has_more,
            "last_seq": page.last_seq,
        }
    )


@router.get("/messages/{message_id}", response_model=Message)
async def get_message(message_id: str, ctx: Ctx, actor: CurrentActor) -> Any:
    """One message, with freshly signed attachment links (links expire)."""
    return await message_history.get_message(ctx, actor, message_id)


@router.patch(
    "/messages/{message_id}",
    response_model=Message,
    responses={
        403: {"description": "`not_sender`: only the sender may edit"},
        409: {"description": f"{_DELETED['description']}; {_ARCHIVED['description']}"},
        **RATE_LIMITED,
    },
)
async def edit_message(
    message_id: str, body: EditMessageRequest, ctx: Ctx, actor: CurrentActor
) -> Any:
    """Change a message's body (sender only); the earlier body is kept and
    `message.edited` is logged."""
    return await message_edit.edit_message(ctx, actor, message_id, body=body.body)


@router.delete(
    "/messages/{message_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        403: {"description": "`not_owner`: only the sender, the owner or an admin may delete"}
    },
)
async def delete_message(message_id: str, ctx: Ctx, actor: CurrentActor) -> None:
    """Delete a message (sender, conversation owner or admin). It keeps its place in history
    with an empty body; its earlier bodies, reactions and files go, and its earlier events
    keep their seq and kind with a tombstone as data. Logs `message.deleted`."""
    await message_delete.delete_message(ctx, actor, message_id)


@router.get("/messages/{message_id}/edits", response_model=MessageEdits)
async def message_edits(message_id: str, ctx: Ctx, actor: CurrentActor) -> Any:
    """The earlier bodies of an edited message, oldest first."""
    return {"edits": await message_edit.list_edits(ctx, actor, message_id)}


@router.put(
    "/messages/{message_id}/reactions/{emoji}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        409: {
            "description": "`message_deleted`; `too_many_reactions` (of the caller's) or "
            "`too_many_emoji` (different ones) on the message: `details.limit` names the cap; "
            "`conversation_archived`"
        }
    },
)
async def add_reaction(message_id: str, emoji: Emoji, ctx: Ctx, actor: CurrentActor) -> None:
    """React with an emoji (idempotent); logs `reaction.added` the first time."""
    await reactions.add_reaction(ctx, actor, message_id, emoji)


@router.delete(
    "/messages/{message_id}/reactions/{emoji}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={409: _ARCHIVED},
)
async def remove_reaction(message_id: str, emoji: Emoji, ctx: Ctx, actor: CurrentActor) -> None:
    """Take back a reaction (idempotent); logs `reaction.removed` if there was one."""
    await reactions.remove_reaction(ctx, actor, message_id, emoji)


@router.get("/messages/{message_id}/thread", response_model=Thread)
async def thread(
    message_id: str,
    ctx: Ctx,
    actor: CurrentActor,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    after: Cursor = None,
) -> Any:
    """A thread's root message and its replies, oldest first."""
    return await message_history.thread_page(ctx, actor, message_id, limit=limit, after=after)


@router.get(
    "/conversations/{conversation_id}/events",
    response_model=EventPage,
    responses={
        410: {
            "description": "`resync`: retention dropped events after `after_seq` from the "
            "log; load the history window again and follow from its last seq",
        }
    },
)
async def events_after(
    conversation_id: str,
    ctx: Ctx,
    actor: CurrentActor,
    after_seq: Annotated[int, Query(ge=0, le=events.MAX_SEQ)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> Any:
    """Catch-up: the conversation's events after `after_seq`, in order, with no gaps."""
    found, last_seq = await events.events_after(ctx, actor, conversation_id, after_seq, limit)
    return {
        "events": [
            {
                "conversation_id": e.conversation_id,
                "seq": e.seq,
                "kind": e.kind,
                "data": e.data,
                "created_at": e.created_at,
            }
            for e in found
        ],
        "last_seq": last_seq,
        "has_more": bool(found) and found[-1].seq < last_seq,
    }
