"""How long messages are kept: the company's policy and a conversation's own
(docs/retention.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from hallway.api.deps import Ctx, CurrentActor
from hallway.api.routes import API_PREFIX
from hallway.api.schemas import (
    CompanyRetention,
    CompanyRetentionChange,
    ConversationRetention,
    ConversationRetentionChange,
)
from hallway.domain import retention_policy

router = APIRouter(prefix=API_PREFIX, tags=["retention"])

_ADMIN_ONLY: dict[int | str, dict[str, Any]] = {403: {"description": "admins only"}}


@router.get("/company/retention", response_model=CompanyRetention)
async def company_retention(ctx: Ctx, actor: CurrentActor) -> Any:
    """How long the caller's company keeps its messages, and whether what expires is
    archived first."""
    return await retention_policy.company_policy(ctx, actor)


@router.put("/company/retention", response_model=CompanyRetention, responses=_ADMIN_ONLY)
async def change_company_retention(
    body: CompanyRetentionChange, ctx: Ctx, actor: CurrentActor
) -> Any:
    """Admins: keep messages `retention` days (1 to 36,500) or `"forever"`; archive expired
    messages before erasing them or not. The retention job erases what has expired
    (docs/retention.md)."""
    return await retention_policy.set_company_policy(
        ctx, actor, retention=body.retention, archive_expired=body.archive_expired
    )


@router.get("/conversations/{conversation_id}/retention", response_model=ConversationRetention)
async def conversation_retention(conversation_id: str, ctx: Ctx, actor: CurrentActor) -> Any:
    """A conversation's own choice (`"company"`: the company's policy) and what applies."""
    return await retention_policy.conversation_policy(ctx, actor, conversation_id)


@router.put(
    "/conversations/{conversation_id}/retention",
    response_model=ConversationRetention,
    responses=_ADMIN_ONLY,
)
async def change_conversation_retention(
    conversation_id: str, body: ConversationRetentionChange, ctx: Ctx, actor: CurrentActor
) -> Any:
    """Admins taking part in the conversation: its own days, `"forever"`, or `"company"`
    to follow the company's policy again."""
    return await retention_policy.set_conversation_policy(
        ctx, actor, conversation_id, body.retention
    )
