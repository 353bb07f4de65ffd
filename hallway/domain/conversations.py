"""Conversations: create (direct idempotently), list mine, read one, rename, list channels."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, distinct, func, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from hallway.domain.access import conversation_for_member
from hallway.domain.accounts import company_user_ids
from hallway.domain.actor import Actor
from hallway.domain.context import DomainContext
from hallway.domain.cursors import decode_time_cursor, encode_cursor
from hallway.domain.errors import Conflict, InvalidInput
from hallway.domain.events import append_event
from hallway.domain.mentions import mentions_me
from hallway.domain.message_views import load_messages_by_seq
from hallway.store.database import Connection
from hallway.store.names import conversation_channel_key
from hallway.store.tables import conversations, mentions, messages, participants, users
from hallway.store.types import AnyRow

Kind = Literal["direct", "group", "channel"]
KINDS: tuple[Kind, ...] = ("direct", "group", "channel")


def clean_title(ctx: DomainContext, kind: str, title: str | None) -> str | None:
    if kind == "direct":
        if title:
            raise InvalidInput("a direct conversation has no title", field="title")
        return None
    title = (title or "").strip() or None
    if title is None and kind == "channel":
        raise InvalidInput("a channel needs a title", field="title")
    if title is not None and len(title) > ctx.settings.max_title_chars:
        raise InvalidInput(
            f"the title may have at most {ctx.settings.max_title_chars} characters",
            field="title",
        )
    return title


def conversation_summary(row: AnyRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "title": row.title,
        "created_by": row.created_by,
        "created_at": row.created_at,
        "last_seq": int(row.last_seq),
        "last_activity_at": row.last_activity_at,
        "topic": row.topic,
        "archived_at": row.archived_at,
    }


async def load_members(
    conn: Connection, conversation_ids: list[str]
) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {cid: [] for cid in conversation_ids}
    if not conversation_ids:
        return found
    rows = await conn.execute(
        select(
            participants.c.conversation_id,
            participants.c.user_id,
            participants.c.role,
            participants.c.joined_at,
            participants.c.last_read_seq,
            users.c.display_name,
            conversations.c.kind,
        )
        .join(users, users.c.id == participants.c.user_id)
        .join(conversations, conversations.c.id == participants.c.conversation_id)
        .where(participants.c.conversation_id.in_(conversation_ids))
        .order_by(participants.c.joined_at, participants.c.user_id)
    )
    for r in rows:
        found[r.conversation_id].append(
            {
                "user_id": r.user_id,
                "display_name": r.display_name,
                "role": r.role,
                "joined_at": r.joined_at,
                # "Seen by": each member's marker in direct conversations and groups; a
                # channel keeps its readers' markers to themselves (receipts.py).
                "last_read_seq": None if r.kind == "channel" else int(r.last_read_seq),
            }
        )
    return found


async def conversation_view(conn: Connection, actor: Actor, conversation_id: str) -> dict[str, Any]:
    row = await conversation_for_member(conn, actor, conversation_id)
    members = await load_members(conn, [conversation_id])
    return {
        **conversation_summary(row),
        "last_read_seq": int(row.last_read_seq),
        "members": members[conversation_id],
    }


async def get_conversation(
    ctx: DomainContext, actor: Actor, conversation_id: str
) -> dict[str, Any]:
    async with ctx.db.read() as conn:
        return await conversation_view(conn, actor, conversation_id)


def direct_pair_key(a: str, b: str) -> str:
    """`conversations.direct_key` of the direct conversation between two people."""
    return ":".join(sorted((a, b)))


async def create_conversation(
    ctx: DomainContext,
    actor: Actor,
    *,
    kind: str,
    title: str | None,
    member_ids: list[str],
) -> tuple[dict[str, Any], bool]:
    """Returns (conversation, created). A direct pair that exists already is returned as is."""
    if kind not in KINDS:
        raise InvalidInput("kind must be direct, group or channel", field="kind")
    title = clean_title(ctx, kind, title)
    others = set(member_ids) - {actor.user_id}
    if kind == "direct" and len(others) != 1:
        raise InvalidInput("a direct conversation has exactly one other person", field="member_ids")
    if kind == "group" and not others:
        raise InvalidInput("a group needs at least one other person", field="member_ids")
    if len(others) + 1 > ctx.settings.max_group_members and kind != "channel":
        raise InvalidInput(
            f"a conversation may have at most {ctx.settings.max_group_members} members",
            field="member_ids",
        )
    direct_key = direct_pair_key(actor.user_id, next(iter(others))) if kind == "direct" else None
    try:
        async with ctx.transaction() as tx:
            await require_colleagues(tx.conn, actor, others)
            if direct_key is not None:
                existing = await _direct_conversation_id(tx.conn, direct_key)
                if existing is not None:
                    return await conversation_view(tx.conn, actor, existing), False
            conversation_id = str(uuid.uuid4())
            await tx.conn.execute(
                conversations.insert().values(
                    id=conversation_id,
                    company_id=actor.company_id,
                    kind=kind,
                    title=title,
                    created_by=actor.user_id,
                    direct_key=direct_key,
                    channel_key=conversation_channel_key(kind, title),
                    last_seq=0,
                    last_activity_at=tx.now,
                    created_at=tx.now,
                )
            )
            creator_role = "member" if kind == "direct" else "owner"
            await insert_participants(
                tx.conn, conversation_id, [(actor.user_id, creator_role)], tx.now, 0
            )
            await insert_participants(
                tx.conn, conversation_id, [(uid, "member") for uid in sorted(others)], tx.now, 0
            )
            view = await conversation_view(tx.conn, actor, conversation_id)
            await append_event(
                tx,
                conversation_id,
                "member.added",
                {
                    "user_ids": [m["user_id"] for m in view["members"]],
                    "added_by": actor.user_id,
                    "conversation": event_summary(view),
                },
                activity=True,
            )
            view["last_seq"] += 1
            return view, True
    except IntegrityError:
        if kind == "channel":
            raise _channel_name_taken(title) from None
        # Two people opened the same direct pair at once; the other transaction won.
        if direct_key is None:
            raise
        async with ctx.db.read() as conn:
            existing = await _direct_conversation_id(conn, direct_key)
            if existing is None:
                raise
            return await conversation_view(conn, actor, existing), False


def event_summary(view: dict[str, Any]) -> dict[str, Any]:
    return {key: view[key] for key in ("id", "kind", "title", "created_by", "created_at")}


async def _direct_conversation_id(conn: Connection, direct_key: str) -> str | None:
    return (
        await conn.execute(
            select(conversations.c.id).where(conversations.c.direct_key == direct_key)
        )
    ).scalar_one_or_none()


async def require_colleagues(
    conn: Connection, actor: Actor, user_ids: set[str], *, field: str = "member_ids"
) -> None:
    unknown = user_ids - await company_user_ids(conn, actor.company_id, user_ids)
    if unknown:
        raise InvalidInput(
            "some member ids are not people of your company",
            code="unknown_users",
            field=field,
            user_ids=sorted(unknown),
        )


async def insert_participants(
    conn: Connection,
    conversation_id: str,
    members: list[tuple[str, str]],
    now: datetime,
    last_read_seq: int,
) -> None:
    if not members:
        return
    await conn.execute(
        participants.insert(),
        [
            {
                "conversation_id": conversation_id,
                "user_id": user_id,
                "role": role,
                "joined_at": now,
                "last_read_seq": last_read_seq,
            }
            for user_id, role in members
        ],
    )


def _channel_name_taken(title: str | None) -> Conflict:
    return Conflict(
        f"a channel named {title!r} exists already", code="channel_name_taken", field="title"
    )


async def rename_conversation(
    ctx: DomainContext, actor: Actor, conversation_id: str, *, title: str | None
) -> dict[str, Any]:
    try:
        return await _rename(ctx, actor, conversation_id, title)
    except IntegrityError:
        raise _channel_name_taken(title) from None


async def _rename(
    ctx: DomainContext, actor: Actor, conversation_id: str, title: str | None
) -> dict[str, Any]:
    async with ctx.transaction() as tx:
        row = await conversation_for_member(tx.conn, actor, conversation_id)
        new_title = clean_title(ctx, row.kind, title)
        if row.kind == "direct":
            raise InvalidInput("a direct conversation has no title", field="title")
        if new_title != row.title:
            await tx.conn.execute(
                update(conversations)
                .where(conversations.c.id == conversation_id)
                .values(
                    title=new_title,
                    channel_key=conversation_channel_key(row.kind, new_title),
                )
            )
            await append_event(
                tx,
                conversation_id,
                "conversation.updated",
                {"title": new_title, "updated_by": actor.user_id},
            )
        return await conversation_view(tx.conn, actor, conversation_id)


async def list_conversations(
    ctx: DomainContext, actor: Actor, *, limit: int, cursor: str | None
) -> dict[str, Any]:
    """Mine, most recently active first, with unread and mention counts, my notification
    settings and the last message."""
    if not 1 <= limit <= 200:
        raise InvalidInput("limit must be 1..200", field="limit")
    unread = (
        select(func.count())
        .select_from(messages)
        .where(
            messages.c.conversation_id == conversations.c.id,
            messages.c.seq > participants.c.last_read_seq,
            messages.c.deleted_at.is_(None),
            # Replies count in their thread, for its followers (hallway/domain/threads.py).
            messages.c.thread_root_id.is_(None),
            or_(messages.c.sender_id.is_(None), messages.c.sender_id != actor.user_id),
        )
        .scalar_subquery()
    )
    mentioned = (
        select(func.count(distinct(mentions.c.message_id)))
        .select_from(mentions.join(messages, messages.c.id == mentions.c.message_id))
        .where(
            mentions.c.conversation_id == conversations.c.id,
            mentions.c.seq > participants.c.last_read_seq,
            mentions_me(actor.user_id),
            messages.c.deleted_at.is_(None),
            or_(messages.c.sender_id.is_(None), messages.c.sender_id != actor.user_id),
        )
        .scalar_subquery()
    )
    last_message_seq = (
        select(func.max(messages.c.seq))
        .where(messages.c.conversation_id == conversations.c.id, messages.c.deleted_at.is_(None))
        .scalar_subquery()
    )
    query = (
        select(
            conversations,
            participants.c.last_read_seq,
            participants.c.notify_level,
            participants.c.muted,
            unread.label("unread_count"),
            mentioned.label("mention_count"),
            last_message_seq.label("last_message_seq"),
        )
        .join(participants, participants.c.conversation_id == conversations.c.id)
        .where(
            participants.c.user_id == actor.user_id,
            conversations.c.company_id == actor.company_id,
        )
        .order_by(conversations.c.last_activity_at.desc(), conversations.c.id.desc())
        .limit(limit + 1)
    )
    if cursor is not None:
        at, after_id = decode_time_cursor(cursor, "cursor")
        query = query.where(
            tuple_(conversations.c.last_activity_at, conversations.c.id) < tuple_(at, after_id)
        )
    async with ctx.db.read() as conn:
        rows = list(await conn.execute(query))
        has_more = len(rows) > limit
        rows = rows[:limit]
        ids = [r.id for r in rows]
        members = await load_members(conn, ids)
        last_messages = await load_messages_by_seq(
            conn,
            actor,
            [(r.id, int(r.last_message_seq)) for r in rows if r.last_message_seq is not None],
            ctx.links,
        )
    items = [
        {
            **conversation_summary(r),
            "last_read_seq": int(r.last_read_seq),
            "unread_count": int(r.unread_count),
            "mention_count": int(r.mention_count),
            "notify_level": r.notify_level,
            "muted": bool(r.muted),
            "last_message": last_messages.get(r.id),
            "members": members[r.id],
        }
        for r in rows
    ]
    next_cursor = (
        encode_cursor(rows[-1].last_activity_at.isoformat(), rows[-1].id) if has_more else None
    )
    return {"conversations": items, "next_cursor": next_cursor, "has_more": has_more}


async def list_channels(ctx: DomainContext, actor: Actor) -> list[dict[str, Any]]:
    """Every open channel of the company, with whether the actor has joined it."""
    member_count = (
        select(func.count())
        .select_from(participants)
        .where(participants.c.conversation_id == conversations.c.id)
        .scalar_subquery()
    )
    joined = (
        select(participants.c.user_id)
        .where(
            and_(
                participants.c.conversation_id == conversations.c.id,
                participants.c.user_id == actor.user_id,
            )
        )
        .exists()
    )
    async with ctx.db.read() as conn:
        rows = await conn.execute(
            select(conversations, member_count.label("member_count"), joined.label("joined"))
            .where(
                conversations.c.company_id == actor.company_id, conversations.c.kind == "channel"
            )
            .order_by(conversations.c.title, conversations.c.id)
        )
        return [
            {**conversation_summary(r), "member_count": int(r.member_count), "joined": r.joined}
            for r in rows
        ]
