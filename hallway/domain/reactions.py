"""Reactions: one of each emoji per person per message; adding twice changes nothing."""

from __future__ import annotations

import unicodedata

from sqlalchemy import delete, select

from hallway.domain.access import message_for_member
from hallway.domain.actor import Actor
from hallway.domain.context import DomainContext
from hallway.domain.errors import Conflict, InvalidInput
from hallway.domain.events import append_event
from hallway.store.tables import reactions

MAX_EMOJI_CHARS = 32


def clean_emoji(emoji: str) -> str:
    """An emoji (any sequence of symbols, joiners and modifiers) or a :short_code:."""
    ok = 1 <= len(emoji) <= MAX_EMOJI_CHARS and not any(
        ch.isspace() or unicodedata.category(ch) in ("Cc", "Cs") or ch in "/?#%\\" for ch in emoji
    )
    if not ok:
        raise InvalidInput(
            f"an emoji is 1..{MAX_EMOJI_CHARS} characters with no spaces", field="emoji"
        )
    return emoji


async def add_reaction(ctx: DomainContext, actor: Actor, message_id: str, emoji: str) -> None:
    emoji = clean_emoji(emoji)
    async with ctx.transaction() as tx:
        # Shared-locked: on PostgreSQL a deletion under way finishes first (and this one
        # then finds the message deleted), or waits for this reaction and erases it too.
        message = await message_for_member(tx.conn, actor, message_id, lock=True)
        if message.deleted_at is not None:
            raise Conflict("the message was deleted", code="message_deleted")
        present = (
            await tx.conn.execute(
                select(reactions.c.emoji).where(
                    reactions.c.message_id == message_id,
                    reactions.c.user_id == actor.user_id,
                    reactions.c.emoji == emoji,
                )
            )
        ).first()
        if present is not None:
            return
        await tx.conn.execute(
            reactions.insert().values(
                message_id=message_id, user_id=actor.user_id, emoji=emoji, created_at=tx.now
            )
        )
        await append_event(
            tx,
            message.conversation_id,
            "reaction.added",
            {"message_id": message_id, "emoji": emoji, "user_id": actor.user_id},
            message_id=message_id,
        )


async def remove_reaction(ctx: DomainContext, actor: Actor, message_id: str, emoji: str) -> None:
    emoji = clean_emoji(emoji)
    async with ctx.transaction() as tx:
        message = await message_for_member(tx.conn, actor, message_id)
        removed = await tx.conn.execute(
            delete(reactions).where(
                reactions.c.message_id == message_id,
                reactions.c.user_id == actor.user_id,
                reactions.c.emoji == emoji,
            )
        )
        if removed.rowcount:
            await append_event(
                tx,
                message.conversation_id,
                "reaction.removed",
                {"message_id": message_id, "emoji": emoji, "user_id": actor.user_id},
                message_id=message_id,
            )
