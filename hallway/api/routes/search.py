"""Search: the messages of the caller's conversations that contain some words."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from hallway.api.deps import Ctx, CurrentActor
from hallway.api.routes import API_PREFIX, RATE_LIMITED, Cursor
from hallway.api.schemas import SearchPage
from hallway.domain import message_search

router = APIRouter(prefix=API_PREFIX, tags=["search"])


@router.get("/search", response_model=SearchPage, summary="Search messages", responses=RATE_LIMITED)
async def search(
    ctx: Ctx,
    actor: CurrentActor,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=1000,
            description="words, all of which must occur; the last may be the start of a word",
        ),
    ],
    conversation_id: Annotated[str | None, Query(description="only this conversation")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Cursor = None,
) -> Any:
    """Messages of the conversations the caller takes part in, newest first, with the
    ranges of the matched words. `q` is plain words, not a query language: letters and
    digits make words, anything else only separates them; case does not matter; the last
    word of three letters or more also matches longer words it starts. Deleted messages never
    match, edited ones by their current text. A `q` without any word, of more than 16 words
    or with a word of more than 100 characters answers 422. See docs/search.md."""
    return await message_search.search_messages(
        ctx, actor, q, conversation_id=conversation_id, limit=limit, cursor=cursor
    )
