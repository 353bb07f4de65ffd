"""Membership: add people, join an open channel, remove someone or leave."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select

from hallway.domain.access import (
    conversation_for_member,
    is_id,
    joinable_conversation,
    may_manage_members,
)
from hallway.domain.actor import Actor
from hallway.domain.context import DomainContext, Transaction
from hallway.domain.conversations import (
    conversation_view,
    event_summary,
    insert_participants,
    require_colleagues,
)
from hallway.domain.errors import Forbidden, InvalidInput, NotFound
from hallway.domain.events import append_event
from hallway.store.tables import participants


async def add_members(
    ctx: DomainContext, actor: Actor, conversation_id: str, user_ids: list[str]
) -> dict[str, Any]:
    """Members may add colleagues to groups and channels; anyone may join a channel."""
    wanted = set(user_ids)
    if not wanted:
        raise InvalidInput("name at least one person to add", field="user_ids")
    async with ctx.transaction() as tx:
        # Locked, so that two people adding the same person (or two tabs joining) one after
        # the other find them present instead of inserting them twice.
        if wanted == {actor.user_id}:
            conversation = await joinable_conversation(tx.conn, actor, conversation_id, lock=True)
        else:
            conversation = await conversation_for_member(tx.conn, actor, conversation_id, lock=True)
        if conversation.kind == "direct":
            raise InvalidInput(
                "a direct conversation keeps its two people",
                code="direct_members_fixed",
                field="user_ids",
            )
        await require_colleagues(tx.conn, actor, wanted, field="user_ids")
        present = set(
            (
                await tx.conn.execute(
                    select(participants.c.user_id).where(
                        participants.c.conversation_id == conversation_id,
                        participants.c.user_id.in_(wanted),
                    )
                )
            ).scalars()
        )
        new = sorted(wanted - present)
        if new:
            if conversation.kind == "group":
                count = (
                    await tx.conn.execute(
                        select(func.count()).where(
                            participants.c.conversation_id == conversation_id
                        )
                    )
                ).scalar_one()
                if count + len(new) > ctx.settings.max_group_members:
                    raise InvalidInput(
                        f"a group may have at most {ctx.settings.max_group_members} members",
                        field="user_ids",
                    )
            # Newcomers start with nothing unread: they see history, not a backlog badge.
            await insert_participants(
                tx.conn,
                conversation_id,
                [(uid, "member") for uid in new],
                tx.now,
                int(conversation.last_seq) + 1,
            )
            view = await conversation_view(tx.conn, actor, conversation_id)
            await append_event(
                tx,
                conversation_id,
                "member.added",
                {"user_ids": new, "added_by": actor.user_id, "conversation": event_summary(view)},
            )
            view["last_seq"] += 1
            return view
        return await conversation_view(tx.conn, actor, conversation_id)


async def take_out(tx: Transaction, conversation_id: str, user_id: str, removed_by: str) -> bool:
    """Take the person out of the conversation and log `member.removed` (the realtime hub
    stops their delivery on it), in the caller's transaction; False if they were not in
    it. The caller checks who may do this.

    The event is logged before the row goes, while whoever leaves still takes part: under
    row-level security a person may write only the log of a conversation they are in. The
    row is locked meanwhile, so that it is still there to delete."""
    membership = (participants.c.conversation_id == conversation_id) & (
        participants.c.user_id == user_id
    )
    present = await tx.conn.execute(
        select(participants.c.user_id).where(membership).with_for_update()
    )
    if present.first() is None:
        return False
    await append_event(
        tx, conversation_id, "member.removed", {"user_id": user_id, "removed_by": removed_by}
    )
    await tx.conn.execute(delete(participants).where(membership))
    return True


async def remove_member(
    ctx: DomainContext, actor: Actor, conversation_id: str, user_id: str
) -> None:
    """Leave (remove oneself), or remove someone else as owner or admin."""
    async with ctx.transaction() as tx:
        conversation = await conversation_for_member(tx.conn, actor, conversation_id)
        if conversation.kind == "direct":
            raise InvalidInput(
                "a direct conversation keeps its two people",
                code="direct_members_fixed",
                field="user_id",
            )
        if user_id != actor.user_id and not may_manage_members(conversation, actor):
            raise Forbidden(
                "only the conversation's owner or an admin may remove others", code="not_owner"
            )
        if not is_id(user_id) or not await take_out(tx, conversation_id, user_id, actor.user_id):
            raise NotFound("that person is not a member of this conversation")
