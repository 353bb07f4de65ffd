"""Threads: a thread's history in windows, and the threads one follows."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from hallway.api.deps import Ctx, CurrentActor
from hallway.api.routes import API_PREFIX, Cursor
from hallway.api.schemas import FollowedThreads, ThreadFollowing, ThreadRead, ThreadWindow
from hallway.domain import threads
from hallway.domain.message_history import MAX_PAGE

router = APIRouter(prefix=API_PREFIX, tags=["threads"])
_NO_THREAD: dict[int | str, dict[str, Any]] = {
    404: {"description": "`not_found`: no such thread root in a conversation of the caller's"}
}


@router.get(
    "/conversations/{conversation_id}/threads/{root_id}/messages",
    response_model=ThreadWindow,
    responses=_NO_THREAD,
)
async def thread_window(
    conversation_id: str,
    root_id: str,
    ctx: Ctx,
    actor: CurrentActor,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    before: Cursor = None,
) -> Any:
    """A window of a thread, oldest first, as the conversation's history comes: its root,
    and its newest `limit` replies, or those before the `before` cursor (the `next_cursor`
    of the previous window). Replies show only here, not in the conversation's history."""
    return await threads.thread_window(
        ctx, actor, conversation_id, root_id, limit=limit, before=before
    )


@router.get("/threads", response_model=FollowedThreads)
async def followed_threads(
    ctx: Ctx,
    actor: CurrentActor,
    limit: Annotated[int, Query(ge=1, le=threads.MAX_THREADS_PAGE)] = 50,
    cursor: Cursor = None,
) -> Any:
    """The threads the caller follows, in conversations they still take part in, newest
    activity first, each with its unread replies; page with `cursor`. One follows a thread
    one started (once it has a reply), one replied to, or followed explicitly."""
    return await threads.list_threads(ctx, actor, limit=limit, cursor=cursor)


@router.post("/threads/{root_id}/read", response_model=ThreadRead, responses=_NO_THREAD)
async def mark_thread_read(root_id: str, ctx: Ctx, actor: CurrentActor) -> Any:
    """Mark every reply of the thread so far as read (the marker never moves back)."""
    return await threads.mark_thread_read(ctx, actor, root_id)


@router.put("/threads/{root_id}/follow", response_model=ThreadFollowing, responses=_NO_THREAD)
async def follow_thread(root_id: str, ctx: Ctx, actor: CurrentActor) -> Any:
    """Follow a thread (idempotent); what it holds so far counts as read."""
    return await threads.set_following(ctx, actor, root_id, True)


@router.delete("/threads/{root_id}/follow", response_model=ThreadFollowing, responses=_NO_THREAD)
async def unfollow_thread(root_id: str, ctx: Ctx, actor: CurrentActor) -> Any:
    """Stop following a thread (idempotent); a later reply of one's own follows it again."""
    return await threads.set_following(ctx, actor, root_id, False)
