"""Conversations, their members and read markers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from hallway.api.deps import Ctx, CurrentActor
from hallway.api.routes import API_PREFIX, Cursor
from hallway.api.schemas import (
    AddMembersRequest,
    Channels,
    ChannelTopicRequest,
    Conversation,
    ConversationList,
    CreateConversationRequest,
    MarkReadRequest,
    MarkUnreadRequest,
    ReadMarker,
    UpdateConversationRequest,
)
from hallway.domain import channel_settings, conversations, members, receipts

router = APIRouter(prefix=API_PREFIX, tags=["conversations"])
_NOT_A_CHANNEL = {"description": "`not_a_channel`: a direct conversation or a group"}
_NOT_CREATOR = {"description": "`not_creator`: only the channel's creator or an admin"}
_NAME_TAKEN = {
    "description": "`channel_name_taken`: the company has a channel of that name (ignoring case)",
}


@router.post(
    "/conversations",
    status_code=status.HTTP_201_CREATED,
    response_model=Conversation,
    responses={
        200: {"model": Conversation, "description": "the existing direct conversation"},
        409: _NAME_TAKEN,
    },
)
async def create_conversation(
    body: CreateConversationRequest, response: Response, ctx: Ctx, actor: CurrentActor
) -> Any:
    """Start a direct conversation (one per pair: asking again answers 200 with it), a private
    group or an open channel (one per name in a company, ignoring case). The caller is a
    member (owner of groups and channels)."""
    view, created = await conversations.create_conversation(
        ctx, actor, kind=body.kind, title=body.title, member_ids=body.member_ids
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return view


@router.get("/conversations", response_model=ConversationList)
async def list_conversations(
    ctx: Ctx,
    actor: CurrentActor,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Cursor = None,
) -> Any:
    """The caller's conversations, most recently active first, with unread counts and the
    last message; page with `cursor`."""
    return await conversations.list_conversations(ctx, actor, limit=limit, cursor=cursor)


@router.get("/channels", response_model=Channels)
async def list_channels(ctx: Ctx, actor: CurrentActor) -> Any:
    """Every open channel of the company, joined or not."""
    return {"channels": await conversations.list_channels(ctx, actor)}


@router.get("/conversations/{conversation_id}", response_model=Conversation)
async def get_conversation(conversation_id: str, ctx: Ctx, actor: CurrentActor) -> Any:
    """One conversation the caller takes part in, with its members."""
    return await conversations.get_conversation(ctx, actor, conversation_id)


@router.patch(
    "/conversations/{conversation_id}", response_model=Conversation, responses={409: _NAME_TAKEN}
)
async def update_conversation(
    conversation_id: str, body: UpdateConversationRequest, ctx: Ctx, actor: CurrentActor
) -> Any:
    """Rename a group or channel (any member); logs `conversation.updated`."""
    return await conversations.rename_conversation(ctx, actor, conversation_id, title=body.title)


@router.post("/conversations/{conversation_id}/members", response_model=Conversation)
async def add_members(
    conversation_id: str, body: AddMembersRequest, ctx: Ctx, actor: CurrentActor
) -> Any:
    """Add colleagues to a group or channel (members may), or join an open channel by
    adding yourself. Logs `member.added` for those not already members."""
    return await members.add_members(ctx, actor, conversation_id, body.user_ids)


@router.delete(
    "/conversations/{conversation_id}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={403: {"description": "removing someone else needs owner or admin"}},
)
async def remove_member(conversation_id: str, user_id: str, ctx: Ctx, actor: CurrentActor) -> None:
    """Leave (your own id) or remove a member (owner or admin). Their live delivery stops at
    once; logs `member.removed`."""
    await members.remove_member(ctx, actor, conversation_id, user_id)


@router.post("/conversations/{conversation_id}/read", response_model=ReadMarker)
async def mark_read(
    conversation_id: str, body: MarkReadRequest, ctx: Ctx, actor: CurrentActor
) -> Any:
    """Move the caller's read marker forward to `seq` (never back). In a direct
    conversation or a group logs `receipt.updated` (every member sees it: "seen by"); in a
    channel only the caller's own sockets get a `receipt` frame."""
    return await receipts.mark_read(ctx, actor, conversation_id, body.seq)


@router.post("/conversations/{conversation_id}/unread", response_model=ReadMarker)
async def mark_unread(
    conversation_id: str, body: MarkUnreadRequest, ctx: Ctx, actor: CurrentActor
) -> Any:
    """Mark unread from the message of `seq` on: the caller's read marker moves back to
    just before it (a marker already before it stays). Announced as `mark_read` is. 422
    when `seq` is not a message of the conversation."""
    return await receipts.mark_unread(ctx, actor, conversation_id, body.seq)


@router.put(
    "/conversations/{conversation_id}/topic",
    response_model=Conversation,
    responses={422: _NOT_A_CHANNEL},
)
async def set_topic(
    conversation_id: str, body: ChannelTopicRequest, ctx: Ctx, actor: CurrentActor
) -> Any:
    """Set (or clear with null or "") a channel's topic, at most 250 characters; any member
    may. Logs `conversation.updated`."""
    return await channel_settings.set_topic(ctx, actor, conversation_id, body.topic)


@router.post(
    "/conversations/{conversation_id}/archive",
    response_model=Conversation,
    responses={403: _NOT_CREATOR, 422: _NOT_A_CHANNEL},
)
async def archive_channel(conversation_id: str, ctx: Ctx, actor: CurrentActor) -> Any:
    """Archive a channel (its creator, or an admin who is a member): it stays readable,
    and sending, editing and reacting answer 409 `conversation_archived` until it is
    unarchived. Logs `conversation.updated`."""
    return await channel_settings.set_archived(ctx, actor, conversation_id, archived=True)


@router.delete(
    "/conversations/{conversation_id}/archive",
    response_model=Conversation,
    responses={403: _NOT_CREATOR, 422: _NOT_A_CHANNEL},
)
async def unarchive_channel(conversation_id: str, ctx: Ctx, actor: CurrentActor) -> Any:
    """Unarchive a channel (as archiving). Logs `conversation.updated`."""
    return await channel_settings.set_archived(ctx, actor, conversation_id, archived=False)
