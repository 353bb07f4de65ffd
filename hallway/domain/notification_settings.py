"""Notification settings: a person's default level and "do not disturb", a member's level
and mute per conversation, and the rule that decides whether a message notifies someone
(docs/api.md, "Notification settings"; the web client applies the same rule)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from sqlalchemy import select, update

from hallway.domain.access import conversation_for_member
from hallway.domain.actor import Actor
from hallway.domain.context import DomainContext
from hallway.domain.errors import InvalidInput, NotFound
from hallway.domain.user_views import announce_person, own_row, shown_dnd_until, user_dict
from hallway.store.tables import participants, users
from hallway.store.types import AnyRow, utcnow

Level = Literal["all", "mentions", "nothing"]
LEVELS: tuple[Level, ...] = get_args(Level)
DEFAULT_LEVEL: Level = "mentions"
MAX_DND = timedelta(days=366)
"""How far ahead "do not disturb" may be set; longer silence is the level `nothing`."""


@dataclass(frozen=True, slots=True)
class PersonSettings:
    """A person's own settings: the level of conversations without their own, and the time
    "do not disturb" ends (None: off)."""

    level: Level = DEFAULT_LEVEL
    dnd_until: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"level": self.level, "dnd_until": self.dnd_until}


def should_notify(
    message: Mapping[str, Any],
    me: str,
    settings: PersonSettings,
    conversation: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> bool:
    """Whether `message` (as the API gives it) notifies the person `me` in `conversation`
    (with its `kind` and the person's `notify_level` and `muted`). In order: their own or a
    deleted message, no; "do not disturb" until a time still to come, no; muted, no; then
    the level (the conversation's, else the person's): nothing, no; all, yes; mentions, yes
    for a direct conversation, a mention of them, `@channel` or `@here`."""
    if message.get("sender_id") == me or message.get("deleted_at") is not None:
        return False
    if settings.dnd_until is not None and (now or utcnow()) < settings.dnd_until:
        return False
    if conversation.get("muted"):
        return False
    level = conversation.get("notify_level") or settings.level
    if level == "nothing":
        return False
    if level == "all":
        return True
    return (
        conversation.get("kind") == "direct"
        or me in (message.get("mentions") or [])
        or message.get("mention_kind") in ("channel", "here")
    )


def check_level(level: str, field: str) -> Level:
    for known in LEVELS:
        if level == known:
            return known
    raise InvalidInput("the level must be all, mentions or nothing", field=field)


async def my_settings(ctx: DomainContext, actor: Actor) -> dict[str, Any]:
    async with ctx.db.read() as conn:
        row = (
            await conn.execute(
                select(users.c.notify_level, users.c.dnd_until).where(own_row(actor))
            )
        ).first()
    if row is None:
        raise NotFound("person not found")
    return _settings(row)


def _settings(row: AnyRow) -> dict[str, Any]:
    return PersonSettings(check_level(row.notify_level, "level"), row.dnd_until).as_dict()


async def change_my_settings(
    ctx: DomainContext, actor: Actor, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """`changes` holds only what the request named: `level` (not null) and `dnd_until`
    (null, or a time already past, turns it off; at most MAX_DND ahead, with a time
    zone). A change of "do not disturb" is announced to the company as `user.updated`:
    colleagues see it on the person."""
    values: dict[str, Any] = {}
    if "level" in changes:
        if changes["level"] is None:
            raise InvalidInput("the level must be all, mentions or nothing", field="level")
        values["notify_level"] = check_level(changes["level"], "level")
    if "dnd_until" in changes:
        until = changes["dnd_until"]
        if until is not None:
            if until.tzinfo is None:
                raise InvalidInput("dnd_until needs a time zone", field="dnd_until")
            if until > utcnow() + MAX_DND:
                raise InvalidInput(
                    "do not disturb may be set at most 366 days ahead", field="dnd_until"
                )
            if until <= utcnow():
                until = None  # already over: off (and no far-past time reaches storage)
        values["dnd_until"] = until
    if not values:
        return await my_settings(ctx, actor)
    async with ctx.transaction() as tx:
        before = (
            await tx.conn.execute(select(users.c.dnd_until).where(own_row(actor)).with_for_update())
        ).first()
        if before is None:
            raise NotFound("person not found")
        row = (
            await tx.conn.execute(
                update(users).where(own_row(actor)).values(**values).returning(*users.c)
            )
        ).one()
    # Colleagues see "do not disturb" (user_views.py): tell them when what they see changed.
    if shown_dnd_until(before.dnd_until) != shown_dnd_until(row.dnd_until):
        await announce_person(ctx, user_dict(row, ctx.links))
    return _settings(row)


async def change_conversation_settings(
    ctx: DomainContext, actor: Actor, conversation_id: str, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """`changes` holds only what the request named: `notify_level` (null: the person's
    default) and `muted` (not null). NotFound for a conversation the actor is not in."""
    values: dict[str, Any] = {}
    if "notify_level" in changes:
        level = changes["notify_level"]
        values["notify_level"] = None if level is None else check_level(level, "notify_level")
    if "muted" in changes:
        if not isinstance(changes["muted"], bool):
            raise InvalidInput("muted must be true or false", field="muted")
        values["muted"] = changes["muted"]
    async with ctx.transaction() as tx:
        await conversation_for_member(tx.conn, actor, conversation_id)
        if values:
            await tx.conn.execute(
                update(participants)
                .where(
                    participants.c.conversation_id == conversation_id,
                    participants.c.user_id == actor.user_id,
                )
                .values(**values)
            )
        row = (
            await tx.conn.execute(
                select(participants.c.notify_level, participants.c.muted).where(
                    participants.c.conversation_id == conversation_id,
                    participants.c.user_id == actor.user_id,
                )
            )
        ).one()
    return {
        "conversation_id": conversation_id,
        "notify_level": row.notify_level,
        "muted": row.muted,
    }
