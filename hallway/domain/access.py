"""Who may see and do what. Every tenant and membership rule lives here, not in routes.

Anything the actor may not see is NotFound, never Forbidden, so that a probe cannot learn
whether a conversation or message exists in another company or outside one's conversations.
"""

from __future__ import annotations

import re

from sqlalchemy import RowMapping, Select, bindparam, select

from hallway.domain.actor import Actor
from hallway.domain.errors import Conflict, Forbidden, NotFound
from hallway.store import message_log
from hallway.store.database import Connection
from hallway.store.message_log import MESSAGE_COLUMNS, Member
from hallway.store.tables import conversations, messages, participants
from hallway.store.types import AnyRow

CONVERSATION_NOT_FOUND = "conversation not found"
ARCHIVED = "conversation_archived"
MESSAGE_NOT_FOUND = "message not found"
_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_id(value: str) -> bool:
    """Ids are UUID strings, so anything else names nothing and needs no query (a NUL in it
    would even make PostgreSQL fail the query instead of finding nothing)."""
    return _ID.fullmatch(value) is not None


# Built once: this runs on every conversation request, including each message send.
_MEMBER_CONVERSATION = (
    select(conversations, participants.c.role.label("my_role"), participants.c.last_read_seq)
    .join(
        participants,
        (participants.c.conversation_id == conversations.c.id)
        & (participants.c.user_id == bindparam("uid")),
    )
    .where(
        conversations.c.id == bindparam("cid"),
        conversations.c.company_id == bindparam("company"),
    )
)


def as_member(actor: Actor, conversation_id: str) -> Member:
    """The actor in the conversation, for the conversation log's statements that check
    membership on the way (the send's seq allocation, a history window) instead of spending
    a statement on conversation_for_member first. NotFound for what cannot be an id."""
    if not is_id(conversation_id):
        raise NotFound(CONVERSATION_NOT_FOUND)
    return Member(conversation_id, actor.user_id, actor.company_id)


# FOR NO KEY UPDATE: it orders membership changes without blocking inserts that merely
# reference the conversation (messages, events).
_MEMBER_CONVERSATION_LOCKED = _MEMBER_CONVERSATION.with_for_update(key_share=True, of=conversations)


async def conversation_for_member(
    conn: Connection, actor: Actor, conversation_id: str, *, lock: bool = False
) -> AnyRow:
    """The conversation with the actor's participation (`my_role`, `last_read_seq`).

    With `lock`, the conversation row stays locked until commit (PostgreSQL; SQLite runs one
    writer at a time anyway), so that concurrent membership changes see each other."""
    params = as_member(actor, conversation_id).params()
    query = _MEMBER_CONVERSATION_LOCKED if lock else _MEMBER_CONVERSATION
    row = (await conn.execute(query, params)).first()
    if row is None:
        raise NotFound(CONVERSATION_NOT_FOUND)
    return row


async def channel_in_company(
    conn: Connection, actor: Actor, conversation_id: str, *, lock: bool = False
) -> AnyRow:
    """An open channel of the actor's company, member or not (channels are joinable)."""
    if not is_id(conversation_id):
        raise NotFound(CONVERSATION_NOT_FOUND)
    query = select(conversations).where(
        conversations.c.id == conversation_id,
        conversations.c.company_id == actor.company_id,
        conversations.c.kind == "channel",
    )
    if lock:
        query = query.with_for_update(key_share=True)
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound(CONVERSATION_NOT_FOUND)
    return row


async def joinable_conversation(
    conn: Connection, actor: Actor, conversation_id: str, *, lock: bool = False
) -> AnyRow:
    """A conversation the actor may add themselves to: one they already take part in (a
    no-op), or an open channel of their company."""
    try:
        return await conversation_for_member(conn, actor, conversation_id, lock=lock)
    except NotFound:
        return await channel_in_company(conn, actor, conversation_id, lock=lock)


async def message_for_member(
    conn: Connection, actor: Actor, message_id: str, *, lock: bool = False
) -> RowMapping:
    """A message in a conversation the actor takes part in, as message_views takes it
    (MESSAGE_COLUMNS, by name).
    `lock`: hold the message's row until the transaction ends (PostgreSQL; SQLite's writes
    take turns anyway), so that changes to what hangs off it take turns too, and changing or
    erasing the message waits until then."""
    if not is_id(message_id):
        raise NotFound(MESSAGE_NOT_FOUND)
    query = (
        select(*MESSAGE_COLUMNS)
        .join(conversations, conversations.c.id == messages.c.conversation_id)
        .join(
            participants,
            (participants.c.conversation_id == messages.c.conversation_id)
            & (participants.c.user_id == actor.user_id),
        )
        .where(messages.c.id == message_id, conversations.c.company_id == actor.company_id)
    )
    if lock:
        query = query.with_for_update(of=messages)
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        raise NotFound(MESSAGE_NOT_FOUND)
    return row


def member_conversation_ids(actor: Actor) -> Select[tuple[str]]:
    """The ids of the conversations of the actor's company that the actor takes part in:
    all that search may look through (an open channel only once joined; a removed member
    sees nothing of it any more)."""
    return message_log.member_conversation_ids(actor.user_id, actor.company_id)


async def read_member_conversation_ids(conn: Connection, actor: Actor) -> list[str]:
    """member_conversation_ids, read."""
    return await message_log.read_member_conversation_ids(conn, actor.user_id, actor.company_id)


def require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise Forbidden("only a company admin may do this", code="admin_required")


def may_manage_members(conversation: AnyRow, actor: Actor) -> bool:
    """Removing someone else: the conversation's owner, or an admin who takes part in it."""
    return conversation.my_role == "owner" or actor.is_admin


def archived_error() -> Conflict:
    return Conflict("the channel is archived: it is read-only", code=ARCHIVED)


async def refused_send(conn: Connection, actor: Actor, conversation_id: str) -> Conflict | NotFound:
    """Why a message found no seq (the statements that take one check membership and that
    the conversation is not archived, both at once): archived for a member, else not found.
    Read only on that path, so a send that is taken costs nothing more."""
    try:
        row = await conversation_for_member(conn, actor, conversation_id)
    except NotFound as missing:
        return missing
    return archived_error() if row.archived_at is not None else NotFound(CONVERSATION_NOT_FOUND)


async def require_not_archived(conn: Connection, conversation_id: str) -> None:
    """Conflict `conversation_archived` for an archived conversation (an edit, a reaction);
    the caller has checked the actor may see it."""
    archived_at = (
        await conn.execute(
            select(conversations.c.archived_at).where(conversations.c.id == conversation_id)
        )
    ).scalar_one_or_none()
    if archived_at is not None:
        raise archived_error()
