"""Reactions: one of each emoji per person per message; adding twice changes nothing.

A message carries at most HALLWAY_MAX_REACTION_EMOJI_PER_MESSAGE different emoji, and one
person's reactions to it at most HALLWAY_MAX_REACTIONS_PER_PERSON_PER_MESSAGE: past either,
adding answers 409 (a cap, not a rate: waiting does not help)."""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import and_, case, delete, distinct, func, select

from hallway.domain.access import message_for_member, require_not_archived
from hallway.domain.actor import Actor
from hallway.domain.context import DomainContext
from hallway.domain.errors import Conflict, InvalidInput
from hallway.domain.events import append_event
from hallway.store.tables import reactions

MAX_EMOJI_CHARS = 32
_SHORT_NAME = re.compile(r":[a-z0-9_+-]{1,32}:")
# Invisible marks that reorder the text around them (a right-to-left override makes a name
# read backwards): never part of an emoji.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
ZWJ = "\u200d"
# Tag characters: invisible, but they spell the region of a subdivision flag (England's).
_TAGS = range(0xE0020, 0xE0080)


def _never_in_emoji(ch: str) -> bool:
    """Controls, surrogates, separators, bidi marks, and format characters other than the
    joiner and tags that emoji sequences are made with."""
    if ch in BIDI_CONTROLS:
        return True
    category = unicodedata.category(ch)
    if category == "Cf":
        return ch != ZWJ and ord(ch) not in _TAGS
    return category in ("Cc", "Cs", "Co", "Zs", "Zl", "Zp")


def is_emoji(text: str) -> bool:
    """A real emoji, or a short name.

    An emoji is one of Unicode's emoji as Unicode recommends them for interchange: a
    sequence of emoji code points with its variation selectors, zero-width joiners,
    skin-tone modifiers, keycap or regional-indicator flag (the `emoji` package's list,
    which follows Unicode's releases). A short name is 1..32 of lowercase letters, digits,
    `_`, `+` and `-` between colons, as `:thumbs_up:`. Nothing else: no plain text, and no
    control, bidi or other invisible character anywhere."""
    if _SHORT_NAME.fullmatch(text):
        return True
    if not 1 <= len(text) <= MAX_EMOJI_CHARS or any(_never_in_emoji(ch) for ch in text):
        return False
    # Imported on the first reaction, not at startup: its list holds several megabytes that
    # a process never asked for a reaction need not.
    import emoji

    return emoji.is_emoji(text)


def clean_emoji(text: str) -> str:
    if not is_emoji(text):
        raise InvalidInput(
            "an emoji is one emoji (👍, 👍🏽, 🇫🇷) or a short name such as :thumbs_up:",
            code="invalid_emoji",
            field="emoji",
        )
    return text


def _removable(text: str) -> str:
    """Any emoji a reaction may have been stored with, including under the looser rules of
    earlier versions, so that every reaction can be taken back."""
    if not 1 <= len(text) <= MAX_EMOJI_CHARS or any(
        unicodedata.category(ch) in ("Cc", "Cs") for ch in text
    ):
        raise InvalidInput(f"an emoji is 1..{MAX_EMOJI_CHARS} characters", field="emoji")
    return text


async def add_reaction(ctx: DomainContext, actor: Actor, message_id: str, emoji: str) -> None:
    emoji = clean_emoji(emoji)
    settings = ctx.settings
    async with ctx.transaction() as tx:
        # Locked: concurrent additions to one message take turns, so none passes a cap
        # that the one before it just reached; and on PostgreSQL a deletion under way
        # finishes first (this one then finds the message deleted), or waits for this
        # reaction and erases it too.
        message = await message_for_member(tx.conn, actor, message_id, lock=True)
        if message["deleted_at"] is not None:
            raise Conflict("the message was deleted", code="message_deleted")
        await require_not_archived(tx.conn, message["conversation_id"])
        mine = reactions.c.user_id == actor.user_id
        this_emoji = reactions.c.emoji == emoji
        found = (
            await tx.conn.execute(
                select(
                    func.count(distinct(reactions.c.emoji)).label("emoji"),
                    func.count(case((mine, 1))).label("mine"),
                    func.count(case((and_(mine, this_emoji), 1))).label("present"),
                    func.count(case((this_emoji, 1))).label("this_emoji"),
                ).where(reactions.c.message_id == message_id)
            )
        ).one()
        if found.present:
            return
        if found.mine >= settings.max_reactions_per_person_per_message:
            raise Conflict(
                f"you have {found.mine} reactions on this message, the most there may be",
                code="too_many_reactions",
                limit=settings.max_reactions_per_person_per_message,
            )
        if not found.this_emoji and found.emoji >= settings.max_reaction_emoji_per_message:
            raise Conflict(
                f"this message has {found.emoji} different emoji, the most there may be: "
                "react with one of them",
                code="too_many_emoji",
                limit=settings.max_reaction_emoji_per_message,
            )
        await tx.conn.execute(
            reactions.insert().values(
                message_id=message_id, user_id=actor.user_id, emoji=emoji, created_at=tx.now
            )
        )
        await append_event(
            tx,
            message["conversation_id"],
            "reaction.added",
            {"message_id": message_id, "emoji": emoji, "user_id": actor.user_id},
            message_id=message_id,
        )


async def remove_reaction(ctx: DomainContext, actor: Actor, message_id: str, emoji: str) -> None:
    emoji = _removable(emoji)
    async with ctx.transaction() as tx:
        message = await message_for_member(tx.conn, actor, message_id)
        await require_not_archived(tx.conn, message["conversation_id"])
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
                message["conversation_id"],
                "reaction.removed",
                {"message_id": message_id, "emoji": emoji, "user_id": actor.user_id},
                message_id=message_id,
            )
