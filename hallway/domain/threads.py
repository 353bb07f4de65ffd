"""Threads: a root's summary, a thread's history in windows, and who follows which thread.

Threads are one level deep (message_send: replying to a reply joins its thread). Replies
show in their thread only, not in the conversation's history window; their root carries
`reply_count` (replies not deleted), `last_reply_at` and `reply_user_ids` (up to
MAX_REPLIERS distinct repliers, newest first), stored on the root's row and changed in the
transaction of each reply (`record_reply`) and each erasure (`refresh_roots`), which also
logs `thread.updated` in the conversation's log.

Following: the root's author follows a thread once it has a reply, each replier follows
it, and anyone who takes part may follow or unfollow it explicitly. An unfollowed thread
keeps its row (following false), so that the next reply does not follow its author again;
replying follows again. `GET /threads` lists what one follows, newest activity first, with
the replies of others not read yet.

Locks, on PostgreSQL: a reply takes the root's row before the conversation's (as an edit or
an erasure takes the message's row before the conversation's), so neither waits for the
other in the opposite order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from itertools import groupby
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    func,
    or_,
    select,
    true,
    tuple_,
    union,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from hallway.domain.access import conversation_for_member, is_id
from hallway.domain.actor import Actor
from hallway.domain.context import DomainContext, Event, Transaction
from hallway.domain.cursors import (
    decode_number_cursor,
    decode_time_cursor,
    encode_cursor,
)
from hallway.domain.errors import InvalidInput, NotFound
from hallway.domain.events import append_event, append_events
from hallway.domain.message_history import check_limit
from hallway.domain.message_views import message_views
from hallway.store.bulk import chunked
from hallway.store.database import Connection
from hallway.store.message_log import MESSAGE_COLUMNS, Member
from hallway.store.tables import conversations, messages, participants, thread_followers
from hallway.store.types import UTCDateTime, utcnow

THREAD_UPDATED = "thread.updated"
MAX_REPLIERS = 5
MAX_THREADS_PAGE = 100
THREAD_NOT_FOUND = "no such thread"


# --- the root's summary, in the writer's transaction ----------------------------------------


async def lock_root(conn: Connection, conversation_id: str, message_id: str) -> str | None:
    """The root of the thread that a reply to `message_id` joins (the message itself, or
    the root of the reply it is), its row locked until commit; None when the message is
    not of this conversation."""
    if not is_id(message_id):
        return None
    found = (
        await conn.execute(
            select(messages.c.id, messages.c.thread_root_id).where(
                messages.c.id == message_id, messages.c.conversation_id == conversation_id
            )
        )
    ).first()
    if found is None:
        return None
    root_id = str(found.thread_root_id or found.id)
    await conn.execute(
        select(messages.c.id).where(messages.c.id == root_id).with_for_update(of=messages)
    )
    return root_id


def _event_data(
    root_id: str, count: int, last_at: datetime | None, ids: list[str]
) -> dict[str, Any]:
    return {
        "root_id": root_id,
        "reply_count": count,
        "last_reply_at": last_at,
        "reply_user_ids": ids,
    }


async def record_reply(tx: Transaction, member: Member, reply: dict[str, Any]) -> Event:
    """A reply was stored in this transaction (its root locked by lock_root): count it on
    its root, log `thread.updated`, and have its sender (again) and the root's author (if
    they never unfollowed) follow the thread."""
    root_id = reply["thread_root_id"]
    root = (
        await tx.conn.execute(
            select(messages.c.sender_id, messages.c.reply_count, messages.c.reply_user_ids).where(
                messages.c.id == root_id
            )
        )
    ).one()
    count = int(root.reply_count) + 1
    repliers = [
        member.user_id,
        *(u for u in str(root.reply_user_ids).split() if u != member.user_id),
    ]
    repliers = repliers[:MAX_REPLIERS]
    await tx.conn.execute(
        update(messages)
        .where(messages.c.id == root_id)
        .values(
            reply_count=count, last_reply_at=reply["created_at"], reply_user_ids=" ".join(repliers)
        )
    )
    await _follow(tx, member, root_id, member.user_id, read_seq=reply["seq"], again=True)
    if root.sender_id is not None and root.sender_id != member.user_id:
        await _follow(tx, member, root_id, root.sender_id, read_seq=0, again=False)
    return await append_event(
        tx,
        member.conversation_id,
        THREAD_UPDATED,
        _event_data(root_id, count, reply["created_at"], repliers),
        message_id=root_id,
    )


async def _follow(
    tx: Transaction, member: Member, root_id: str, user_id: str, *, read_seq: int, again: bool
) -> None:
    """Follow the thread as `user_id`; `again`: also when they had unfollowed it, and then
    everything up to `read_seq` is read."""
    insert = postgresql.insert if tx.conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(thread_followers).values(
        root_id=root_id,
        user_id=user_id,
        conversation_id=member.conversation_id,
        company_id=member.company_id,
        following=True,
        last_read_seq=read_seq,
        followed_at=tx.now,
    )
    keys = [thread_followers.c.root_id, thread_followers.c.user_id]
    if again:
        done = statement.on_conflict_do_update(
            index_elements=keys,
            set_={
                "following": True,
                "last_read_seq": func.max(thread_followers.c.last_read_seq, read_seq)
                if tx.conn.dialect.name == "sqlite"
                else func.greatest(thread_followers.c.last_read_seq, read_seq),
            },
        )
    else:
        done = statement.on_conflict_do_nothing(index_elements=keys)
    await tx.conn.execute(done)


async def refresh_roots(tx: Transaction, root_ids: Sequence[str]) -> list[Event]:
    """Count these roots' replies again (some were erased in this transaction) and log a
    `thread.updated` for each. Set-based: three statements however many roots."""
    if not root_ids:
        return []
    ordered = sorted(set(root_ids))
    # Lock order: message rows before the conversation's (append_events).
    await tx.conn.execute(
        select(messages.c.id).where(messages.c.id.in_(ordered)).with_for_update(of=messages)
    )
    summaries = await _recount(tx.conn, ordered)
    of_root = {
        row.id: row.conversation_id
        for row in await tx.conn.execute(
            select(messages.c.id, messages.c.conversation_id).where(messages.c.id.in_(ordered))
        )
    }
    logged: list[Event] = []
    in_order = sorted(
        (s for s in summaries if s["root_id"] in of_root), key=lambda s: of_root[s["root_id"]]
    )
    for conversation_id, of_conversation in groupby(in_order, lambda s: of_root[s["root_id"]]):
        logged += await append_events(
            tx,
            conversation_id,
            [(THREAD_UPDATED, s, s["root_id"]) for s in of_conversation],
        )
    return logged


async def _recount(conn: Connection, ordered: Sequence[str]) -> list[dict[str, Any]]:
    """Count these roots' replies and store their summaries: the summaries, as
    `thread.updated` carries them. Three statements however many roots."""
    live = and_(messages.c.thread_root_id.in_(ordered), messages.c.deleted_at.is_(None))
    counts = {
        row.thread_root_id: (int(row.n), row.last_at)
        for row in await conn.execute(
            select(
                messages.c.thread_root_id,
                func.count().label("n"),
                func.max(messages.c.created_at).label("last_at"),
            )
            .where(live)
            .group_by(messages.c.thread_root_id)
        )
    }
    newest: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for row in await conn.execute(
        select(messages.c.thread_root_id, messages.c.sender_id, func.max(messages.c.seq).label("s"))
        .where(live, messages.c.sender_id.is_not(None))
        .group_by(messages.c.thread_root_id, messages.c.sender_id)
    ):
        newest[row.thread_root_id].append((int(row.s), row.sender_id))
    summaries: list[dict[str, Any]] = []
    for root_id in ordered:
        count, last_at = counts.get(root_id, (0, None))
        ids = [uid for _, uid in sorted(newest.get(root_id, []), reverse=True)[:MAX_REPLIERS]]
        summaries.append(_event_data(root_id, count, last_at, ids))
    await conn.execute(
        update(messages)
        .where(messages.c.id == bindparam("root"))
        .values(
            reply_count=bindparam("count"),
            last_reply_at=bindparam("last_at", type_=UTCDateTime),
            reply_user_ids=bindparam("ids"),
        ),
        [
            {
                "root": s["root_id"],
                "count": s["reply_count"],
                "last_at": s["last_reply_at"],
                "ids": " ".join(s["reply_user_ids"]),
            }
            for s in summaries
        ],
    )
    return summaries


async def recount_threads(conn: Connection, conversation_ids: Sequence[str]) -> None:
    """After an import wrote messages straight into these conversations: count every
    thread of theirs again, and have each thread's author and repliers follow it, with
    everything so far read (history brought along is history read). No event: an import
    logs its own."""
    for some in chunked(conversation_ids):
        roots = select(messages.c.thread_root_id).where(
            messages.c.conversation_id.in_(some), messages.c.thread_root_id.is_not(None)
        )
        root_ids = sorted({str(r) for r in (await conn.execute(roots.distinct())).scalars()})
        for chunk in chunked(root_ids):
            await _recount(conn, chunk)
            await _follow_all(conn, chunk)


async def _follow_all(conn: Connection, root_ids: Sequence[str]) -> None:
    """Each of these roots' author and repliers follows it, read up to its newest reply,
    unless they follow (or unfollowed) it already."""
    root = messages.alias("root")
    replies = messages.alias("replies")
    newest = (
        select(replies.c.thread_root_id, func.max(replies.c.seq).label("seq"))
        .where(replies.c.thread_root_id.in_(root_ids))
        .group_by(replies.c.thread_root_id)
        .subquery()
    )
    people = union(
        select(
            replies.c.thread_root_id.label("root_id"), replies.c.sender_id.label("user_id")
        ).where(replies.c.thread_root_id.in_(root_ids), replies.c.sender_id.is_not(None)),
        select(root.c.id, root.c.sender_id).where(
            root.c.id.in_(root_ids), root.c.sender_id.is_not(None)
        ),
    ).subquery()
    of_root = messages.alias("of_root")
    rows = (
        await conn.execute(
            select(
                people.c.root_id,
                people.c.user_id,
                of_root.c.conversation_id,
                conversations.c.company_id,
                newest.c.seq,
                of_root.c.last_reply_at,
            )
            .join(of_root, of_root.c.id == people.c.root_id)
            .join(conversations, conversations.c.id == of_root.c.conversation_id)
            .join(newest, newest.c.thread_root_id == people.c.root_id)
        )
    ).all()
    if not rows:
        return
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    await conn.execute(
        insert(thread_followers).on_conflict_do_nothing(
            index_elements=[thread_followers.c.root_id, thread_followers.c.user_id]
        ),
        [
            {
                "root_id": r.root_id,
                "user_id": r.user_id,
                "conversation_id": r.conversation_id,
                "company_id": r.company_id,
                "following": True,
                "last_read_seq": int(r.seq),
                "followed_at": r.last_reply_at or utcnow(),
            }
            for r in rows
        ],
    )


# --- a thread's history in windows ------------------------------------------------------------


async def _root_for_member(
    conn: Connection, actor: Actor, conversation_id: str, root_id: str
) -> Any:
    """The root (as MESSAGE_COLUMNS) of a thread of a conversation the actor takes part in;
    NotFound for anything else, a reply included."""
    await conversation_for_member(conn, actor, conversation_id)
    if not is_id(root_id):
        raise NotFound(THREAD_NOT_FOUND)
    root = (
        (
            await conn.execute(
                select(*MESSAGE_COLUMNS).where(
                    messages.c.id == root_id,
                    messages.c.conversation_id == conversation_id,
                    messages.c.thread_root_id.is_(None),
                )
            )
        )
        .mappings()
        .first()
    )
    if root is None:
        raise NotFound(THREAD_NOT_FOUND)
    return root


async def thread_window(
    ctx: DomainContext,
    actor: Actor,
    conversation_id: str,
    root_id: str,
    *,
    limit: int,
    before: str | None,
) -> dict[str, Any]:
    """The root, and a window of its replies, oldest first: the newest `limit`, or those
    before the `before` cursor; `last_seq` is the conversation's, to follow its events."""
    check_limit(limit)
    before_seq = None if before is None else decode_number_cursor(before, "seq", "before")
    query = (
        select(*MESSAGE_COLUMNS)
        .where(messages.c.thread_root_id == root_id)
        .order_by(messages.c.seq.desc())
        .limit(limit + 1)
    )
    if before_seq is not None:
        query = query.where(messages.c.seq < before_seq)
    async with ctx.db.read() as conn:
        conversation = await conversation_for_member(conn, actor, conversation_id)
        root = await _root_for_member(conn, actor, conversation_id, root_id)
        rows = list((await conn.execute(query)).mappings())
        has_more = len(rows) > limit
        rows = rows[:limit][::-1]
        root_view, *replies = await message_views(conn, actor, [root, *rows], ctx.links)
    return {
        "root": root_view,
        "messages": replies,
        "next_cursor": encode_cursor("seq", replies[0]["seq"]) if has_more else None,
        "has_more": has_more,
        "last_seq": int(conversation.last_seq),
    }


# --- following ---------------------------------------------------------------------------------


def _unread_count() -> ColumnElement[int]:
    replies = messages.alias("replies")
    return (
        select(func.count())
        .select_from(replies)
        .where(
            replies.c.thread_root_id == thread_followers.c.root_id,
            replies.c.seq > thread_followers.c.last_read_seq,
            replies.c.deleted_at.is_(None),
            or_(replies.c.sender_id.is_(None), replies.c.sender_id != thread_followers.c.user_id),
        )
        .scalar_subquery()
    )


def _activity() -> ColumnElement[datetime]:
    return func.coalesce(messages.c.last_reply_at, messages.c.created_at, type_=UTCDateTime)


async def list_threads(
    ctx: DomainContext, actor: Actor, *, limit: int, cursor: str | None
) -> dict[str, Any]:
    """The threads I follow in conversations I take part in, newest activity first."""
    if not 1 <= limit <= MAX_THREADS_PAGE:
        raise InvalidInput(f"limit must be 1..{MAX_THREADS_PAGE}", field="limit")
    activity = _activity()
    query = (
        select(
            *MESSAGE_COLUMNS,
            thread_followers.c.last_read_seq.label("follower_last_read_seq"),
            _unread_count().label("unread_reply_count"),
            activity.label("activity_at"),
        )
        .join(thread_followers, thread_followers.c.root_id == messages.c.id)
        .join(
            participants,
            and_(
                participants.c.conversation_id == thread_followers.c.conversation_id,
                participants.c.user_id == actor.user_id,
            ),
        )
        .join(conversations, conversations.c.id == thread_followers.c.conversation_id)
        .where(
            thread_followers.c.user_id == actor.user_id,
            thread_followers.c.following == true(),
            conversations.c.company_id == actor.company_id,
        )
        .order_by(activity.desc(), messages.c.id.desc())
        .limit(limit + 1)
    )
    if cursor is not None:
        at, after_id = decode_time_cursor(cursor, "cursor")
        query = query.where(tuple_(activity, messages.c.id) < tuple_(at, after_id))
    async with ctx.db.read() as conn:
        rows = list((await conn.execute(query)).mappings())
        has_more = len(rows) > limit
        rows = rows[:limit]
        views = await message_views(conn, actor, rows, ctx.links)
    items = [
        {
            "root": view,
            "conversation_id": view["conversation_id"],
            "unread_reply_count": int(row["unread_reply_count"]),
            "last_read_seq": int(row["follower_last_read_seq"]),
        }
        for row, view in zip(rows, views, strict=True)
    ]
    next_cursor = (
        encode_cursor(rows[-1]["activity_at"].isoformat(), rows[-1]["id"]) if has_more else None
    )
    return {"threads": items, "next_cursor": next_cursor, "has_more": has_more}


async def _root_of_mine(conn: Connection, actor: Actor, root_id: str) -> Any:
    """A thread root in a conversation the actor takes part in; NotFound otherwise."""
    if not is_id(root_id):
        raise NotFound(THREAD_NOT_FOUND)
    row = (
        await conn.execute(
            select(messages.c.id, messages.c.conversation_id, conversations.c.last_seq)
            .join(conversations, conversations.c.id == messages.c.conversation_id)
            .join(
                participants,
                and_(
                    participants.c.conversation_id == messages.c.conversation_id,
                    participants.c.user_id == actor.user_id,
                ),
            )
            .where(
                messages.c.id == root_id,
                messages.c.thread_root_id.is_(None),
                conversations.c.company_id == actor.company_id,
            )
        )
    ).first()
    if row is None:
        raise NotFound(THREAD_NOT_FOUND)
    return row


def _member(actor: Actor, conversation_id: str) -> Member:
    return Member(conversation_id, actor.user_id, actor.company_id)


async def set_following(
    ctx: DomainContext, actor: Actor, root_id: str, following: bool
) -> dict[str, Any]:
    """Follow (everything so far read) or unfollow a thread; doing it twice changes nothing."""
    async with ctx.transaction() as tx:
        root = await _root_of_mine(tx.conn, actor, root_id)
        if following:
            await _follow(
                tx,
                _member(actor, root.conversation_id),
                root_id,
                actor.user_id,
                read_seq=int(root.last_seq),
                again=True,
            )
        else:
            await tx.conn.execute(
                update(thread_followers)
                .where(
                    thread_followers.c.root_id == root_id,
                    thread_followers.c.user_id == actor.user_id,
                )
                .values(following=False)
            )
    return {"root_id": root_id, "following": following}


async def mark_thread_read(ctx: DomainContext, actor: Actor, root_id: str) -> dict[str, Any]:
    """Every reply so far read: the marker moves to the thread's newest reply (never back)."""
    async with ctx.transaction() as tx:
        await _root_of_mine(tx.conn, actor, root_id)
        newest = (
            await tx.conn.execute(
                select(func.max(messages.c.seq)).where(messages.c.thread_root_id == root_id)
            )
        ).scalar()
        target = int(newest or 0)
        await tx.conn.execute(
            update(thread_followers)
            .where(
                thread_followers.c.root_id == root_id,
                thread_followers.c.user_id == actor.user_id,
                thread_followers.c.last_read_seq < target,
            )
            .values(last_read_seq=target)
        )
        marker = (
            await tx.conn.execute(
                select(thread_followers.c.last_read_seq, thread_followers.c.following).where(
                    thread_followers.c.root_id == root_id,
                    thread_followers.c.user_id == actor.user_id,
                )
            )
        ).first()
    return {
        "root_id": root_id,
        "last_read_seq": int(marker.last_read_seq) if marker else target,
        "following": bool(marker.following) if marker else False,
    }
