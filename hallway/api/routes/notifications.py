"""Mentions of the caller, and notification settings: the person's and a conversation's."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from hallway.api.deps import Ctx, CurrentActor
from hallway.api.routes import API_PREFIX, Cursor
from hallway.api.schemas import (
    ConversationNotifications,
    ConversationNotificationsChange,
    MentionList,
    NotificationSettings,
    NotificationSettingsChange,
)
from hallway.domain import mention_list, notification_settings

router = APIRouter(prefix=API_PREFIX, tags=["notifications"])


@router.get("/mentions", response_model=MentionList)
async def list_mentions(
    ctx: Ctx,
    actor: CurrentActor,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    before: Cursor = None,
) -> Any:
    """Messages that mention the caller (by name, or `@channel`), newest first, in the
    conversations they still take part in; deleted ones and their own left out. Page with
    `before`."""
    return await mention_list.list_mentions(ctx, actor, limit=limit, before=before)


@router.get("/me/notifications", response_model=NotificationSettings)
async def my_notifications(ctx: Ctx, actor: CurrentActor) -> Any:
    """The caller's default notification level and "do not disturb"."""
    return await notification_settings.my_settings(ctx, actor)


@router.patch("/me/notifications", response_model=NotificationSettings)
async def change_my_notifications(
    body: NotificationSettingsChange, ctx: Ctx, actor: CurrentActor
) -> Any:
    """Change the default level and/or `dnd_until` (null turns it off); fields left out
    stay as they are. Colleagues see `dnd_until` on the person: a change of it is announced
    to the company as `user.updated`."""
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    return await notification_settings.change_my_settings(ctx, actor, changes)


@router.patch(
    "/conversations/{conversation_id}/notifications", response_model=ConversationNotifications
)
async def change_conversation_notifications(
    conversation_id: str, body: ConversationNotificationsChange, ctx: Ctx, actor: CurrentActor
) -> Any:
    """The caller's level for this conversation (null: their default) and/or `muted`;
    fields left out stay as they are. 404 for a conversation they do not take part in."""
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    return await notification_settings.change_conversation_settings(
        ctx, actor, conversation_id, changes
    )
