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
            description=(
                'words (all must occur; the last may be the start of a word), "quoted '
                'phrases" and filters: from:@person in:#conversation before:/after:/on:'
                "YYYY-MM-DD has:file has:link is:thread"
            ),
        ),
    ],
    conversation_id: Annotated[str | None, Query(description="only this conversation")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Cursor = None,
) -> Any:
    """Messages of the conversations the caller takes part in, newest first, with the
    ranges of the matched words. Words: letters and digits make words, anything else only
    separates them; case does not matter; the last word of three letters or more also
    matches longer words it starts. A "quoted phrase" needs its words together and in
    order. Filters narrow the search or stand alone: `from:@person` (display name, email
    before the @, or id), `in:#conversation` (a title), `before:`, `after:`, `on:` (UTC
    days, YYYY-MM-DD), `has:file`, `has:link`, `is:thread`. Nothing in `q` reaches the
    database's query syntax. Deleted messages never match, edited ones by their current
    text. 422: no word and no filter (`empty_query`), more than 16 words or filters or a
    word of more than 100 characters (`invalid_input`), a filter's value it cannot take
    (`invalid_filter`), a `from:` naming no one of the company (`unknown_person`), an `in:`
    naming none of the caller's conversations (`unknown_conversation`). See docs/search.md."""
    return await message_search.search_messages(
        ctx, actor, q, conversation_id=conversation_id, limit=limit, cursor=cursor
    )
