"""Deleting an account: the person goes; what they wrote stays, under "former member".

A person deletes their own account (their password confirms it), or an admin deletes the
account of someone in their company. In one transaction:

- every session of theirs ends (and, once it commits, every socket, on every process);
- the users row is anonymised: the name becomes "former member", the email a placeholder
  that can never be delivered (so the address itself may sign up again), the password
  hash, the external identity and any deactivation go, the role is `member` (a deleted
  admin counts as no admin), and `deleted_at` is set;
- they leave every group and channel as a removal does (`member.removed`, members.py). A
  direct conversation keeps its two people, as it does for a removal: the other person
  keeps it, with "former member" across from them;
- the invites they made are revoked and reset links for their password spent;
- with `erase_messages`, each of their messages is erased as a delete erases it
  (erasure.py), so the event log keeps its seqs; without, their messages stay as written.

Their reactions stay. The row itself stays so that their messages keep a sender whose name
can be shown; nothing in it is theirs any more, and it can never sign in again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from hallway.domain.access import require_admin
from hallway.domain.actor import Actor
from hallway.domain.attachment_cleanup import purge_soon
from hallway.domain.context import DomainContext, Transaction
from hallway.domain.erasure import erase_messages
from hallway.domain.errors import InvalidInput
from hallway.domain.members import take_out
from hallway.domain.password_change import confirm_password
from hallway.domain.people_admin import keep_an_admin, locked_colleague
from hallway.domain.profiles import delete_avatar_image
from hallway.domain.sessions import revoke_sessions, sessions_ended
from hallway.domain.user_views import user_dict
from hallway.store.acting import as_system
from hallway.store.tables import (
    conversations,
    invites,
    messages,
    participants,
    password_resets,
    users,
)
from hallway.store.types import AnyRow

FORMER_MEMBER = "former member"


def placeholder_email(user_id: str) -> str:
    """Unique (the email column is), and in `.invalid`, a domain that never resolves."""
    return f"former-member-{user_id}@deleted.invalid"


async def delete_own_account(
    ctx: DomainContext, actor: Actor, *, password: str, erase_messages: bool
) -> None:
    """The actor deletes their own account; their current password confirms it."""
    await confirm_password(ctx, actor, password)
    await _delete(ctx, actor, actor.user_id, erase_messages=erase_messages)


async def delete_person(
    ctx: DomainContext, actor: Actor, user_id: str, *, erase_messages: bool
) -> dict[str, Any]:
    """An admin deletes the account of someone in their company; the person as everyone
    now sees them."""
    require_admin(actor)
    if user_id == actor.user_id:
        raise InvalidInput(
            "delete your own account with DELETE /me, which asks for your password",
            code="own_account",
            field="user_id",
        )
    return await _delete(ctx, actor, user_id, erase_messages=erase_messages)


async def _delete(
    ctx: DomainContext, actor: Actor, user_id: str, *, erase_messages: bool
) -> dict[str, Any]:
    files: list[str] = []
    # The account's messages and memberships are in conversations the admin may not be in:
    # the domain has checked who may do this (locked_colleague, keep_an_admin).
    with as_system():
        person, ended, avatar = await _delete_in_transaction(
            ctx, actor, user_id, erase_messages, files
        )
    await sessions_ended(ctx, user_id, ended, every_socket=True)
    await purge_soon(ctx, files)
    if avatar is not None:
        await delete_avatar_image(ctx.storage, avatar)
    return user_dict(person, ctx.links)


async def _delete_in_transaction(
    ctx: DomainContext, actor: Actor, user_id: str, erase_messages: bool, files: list[str]
) -> tuple[AnyRow, list[str], str | None]:
    """The person as now shown, their ended sessions, and the stored key of their avatar
    (deleted once this commits)."""
    # Erasing every message of a long-standing member is long work.
    async with ctx.transaction(off_loop=erase_messages) as tx:
        person = await locked_colleague(tx, actor, user_id)
        avatar = person.avatar_key
        await keep_an_admin(tx, actor, person)
        ended = await revoke_sessions(ctx, tx, user_id)
        if erase_messages:
            files.extend(await _erase_messages(tx, user_id, deleted_by=actor.user_id))
        await _leave_conversations(tx, user_id, removed_by=actor.user_id)
        await _end_invites_and_resets(tx, user_id)
        await tx.conn.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(
                display_name=FORMER_MEMBER,
                email=placeholder_email(user_id),
                password_hash=None,
                external_id=None,
                role="member",
                deactivated_at=None,
                deleted_at=tx.now,
                # Their profile goes with them (profiles.py); the avatar's link stops at once.
                status_text=None,
                status_emoji=None,
                time_zone=None,
                avatar_key=None,
            )
        )
        person = (await tx.conn.execute(select(users).where(users.c.id == user_id))).one()
    return person, ended, avatar


ERASE_SLICE = 500


async def _erase_messages(tx: Transaction, user_id: str, *, deleted_by: str) -> list[str]:
    """Erase every message of theirs not yet deleted; the files to purge once committed."""
    ids = list(
        (
            await tx.conn.execute(
                select(messages.c.id).where(
                    messages.c.sender_id == user_id, messages.c.deleted_at.is_(None)
                )
            )
        ).scalars()
    )
    files: list[str] = []
    # In slices: a statement's parameters are bounded (SQLite's most of all).
    for start in range(0, len(ids), ERASE_SLICE):
        erased = await erase_messages(tx, ids[start : start + ERASE_SLICE], deleted_by=deleted_by)
        files += [file for each in erased for file in each.attachment_ids]
    return files


async def _leave_conversations(tx: Transaction, user_id: str, *, removed_by: str) -> None:
    # In id order, so that two deletions at once take the conversations' locks in the
    # same order.
    joined = (
        await tx.conn.execute(
            select(participants.c.conversation_id)
            .join(conversations, conversations.c.id == participants.c.conversation_id)
            .where(participants.c.user_id == user_id, conversations.c.kind != "direct")
            .order_by(participants.c.conversation_id)
        )
    ).scalars()
    for conversation_id in list(joined):
        await take_out(tx, conversation_id, user_id, removed_by)


async def _end_invites_and_resets(tx: Transaction, user_id: str) -> None:
    await tx.conn.execute(
        update(invites)
        .where(invites.c.created_by == user_id, invites.c.revoked_at.is_(None))
        .values(revoked_at=tx.now)
    )
    await tx.conn.execute(
        update(password_resets)
        .where(password_resets.c.user_id == user_id, password_resets.c.used_at.is_(None))
        .values(used_at=tx.now)
    )
