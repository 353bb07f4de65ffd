"""Sending a message: idempotent by client_msg_id, logged as `message.created`."""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass
from typing import Any

from hallway.domain import threads
from hallway.domain.access import as_member, refused_send
from hallway.domain.actor import Actor
from hallway.domain.attachment_links import message_with_links
from hallway.domain.attachments import claim_attachments
from hallway.domain.context import DomainContext, Event
from hallway.domain.errors import InvalidInput
from hallway.domain.events import allocate_member_seq, log_event
from hallway.domain.mentions import may_mention, store_mentions
from hallway.domain.message_format import render_body_off_loop
from hallway.domain.message_views import message_views, thread_summary
from hallway.store import message_log
from hallway.store.database import Connection
from hallway.store.message_log import MESSAGE_CREATED, Member, Refused
from hallway.store.types import utcnow

CREATED = MESSAGE_CREATED
_CLIENT_MSG_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Sent:
    """A send, committed: the message, whether this send created it (False: its
    client_msg_id was used before, and nothing was written), and the events to publish."""

    message: dict[str, Any]
    created: bool
    events: list[Event]


async def send_message(
    ctx: DomainContext,
    actor: Actor,
    conversation_id: str,
    *,
    body: str,
    client_msg_id: str | None = None,
    attachment_ids: list[str] | None = None,
    thread_root_id: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Returns (message, created). A repeated client_msg_id returns the original message."""
    sent = await store_message(
        ctx,
        actor,
        conversation_id,
        body=body,
        client_msg_id=client_msg_id,
        attachment_ids=attachment_ids,
        thread_root_id=thread_root_id,
    )
    await publish_sent(ctx, sent)
    return sent.message, sent.created


async def store_message(
    ctx: DomainContext,
    actor: Actor,
    conversation_id: str,
    *,
    body: str,
    client_msg_id: str | None = None,
    attachment_ids: list[str] | None = None,
    thread_root_id: str | None = None,
) -> Sent:
    """send_message up to its commit: validated and appended, not yet published (pass it
    to publish_sent). A caller that keeps its sends in order starts the next one when this
    returns, while this one is published."""
    await ctx.rate_limits.hit(ctx.rate_limits.send, actor.user_id)
    attachment_ids = attachment_ids or []
    body = clean_body(ctx, body, has_files=bool(attachment_ids))
    if client_msg_id is not None and not _CLIENT_MSG_ID.match(client_msg_id):
        raise InvalidInput(
            "client_msg_id must be 1..64 letters, digits or . _ : -", field="client_msg_id"
        )
    member = as_member(actor, conversation_id)
    body_html = await render_body_off_loop(body)
    # A body that may mention someone takes the transactional path too, which stores its
    # mentions with it; `'@' in body` keeps the plain fast path as it was.
    if attachment_ids or thread_root_id is not None or may_mention(body):
        return await _store_with_files_or_thread(
            ctx, actor, member, body, client_msg_id, attachment_ids, thread_root_id, body_html
        )
    message = _new_message(member, client_msg_id, body, None, utcnow(), body_html)
    appended = await ctx.message_log.append(member, message)
    if appended is Refused.NOT_A_MEMBER:
        async with ctx.db.read() as conn:
            raise await refused_send(conn, actor, conversation_id)
    if appended is Refused.REPEAT:
        assert client_msg_id is not None
        async with ctx.db.read() as conn:
            original = await _original(conn, ctx, actor, member, client_msg_id)
        return Sent(original, False, [])
    assert isinstance(appended, int)
    message["seq"] = appended
    event = Event(conversation_id, appended, CREATED, message, message["created_at"])
    return Sent(message, True, [event])


async def publish_sent(ctx: DomainContext, sent: Sent) -> None:
    """Publish what store_message wrote. On PostgreSQL one turn of the event loop comes
    first: a send that waited for this one's commit (the conversation's next batch, a
    socket's next send) then puts its statement on the wire before this fan-out takes the
    CPU, and the database works on it meanwhile. SQLite runs statements on this thread, so
    there the turn would only delay this fan-out."""
    if not sent.events:
        return
    if not ctx.db.is_sqlite:
        await asyncio.sleep(0)
    await ctx.publish(sent.events)


class _Repeat(Exception):
    """Rolls back a send whose client_msg_id was used before, carrying the original."""

    def __init__(self, original: dict[str, Any]) -> None:
        self.original = original


async def _store_with_files_or_thread(
    ctx: DomainContext,
    actor: Actor,
    member: Member,
    body: str,
    client_msg_id: str | None,
    attachment_ids: list[str],
    thread_root_id: str | None,
    body_html: str,
) -> Sent:
    """A message with files, in a thread or with an `@`: one transaction allocates its seq,
    checks its thread, stores it and its mentions, claims its files and logs its event (and
    a reply's thread.updated)."""
    conversation_id = member.conversation_id
    try:
        async with ctx.write() as tx:
            # The root's row before the conversation's (hallway/domain/threads.py).
            root_id = None
            if thread_root_id is not None:
                root_id = await threads.lock_root(tx.conn, conversation_id, thread_root_id)
            seq = await allocate_member_seq(tx, actor, conversation_id)
            if thread_root_id is not None and root_id is None:
                raise InvalidInput(
                    "the thread root is not a message of this conversation",
                    field="thread_root_id",
                )
            message = _new_message(member, client_msg_id, body, root_id, tx.now, body_html)
            message["seq"] = seq
            if not await message_log.insert_message(tx.conn, message):
                # Only a used client_msg_id conflicts (the seq is ours under the row lock);
                # the row it collided with is committed, so this transaction sees it.
                assert client_msg_id is not None
                raise _Repeat(await _original(tx.conn, ctx, actor, member, client_msg_id))
            message.update(
                (await store_mentions(tx.conn, message, actor.company_id, tx.now)).fields()
            )
            message["attachments"] = await claim_attachments(
                tx,
                actor,
                conversation_id,
                message["id"],
                attachment_ids,
                ctx.settings.max_files_per_message,
            )
            await log_event(tx, conversation_id, seq, CREATED, message, message_id=message["id"])
            if root_id is not None:
                await threads.record_reply(tx, member, message)
    except _Repeat as repeat:
        return Sent(repeat.original, False, [])
    return Sent(message_with_links(ctx.links, message), True, tx.events)


async def _original(
    conn: Connection, ctx: DomainContext, actor: Actor, member: Member, client_msg_id: str
) -> dict[str, Any]:
    """The message an earlier send with this client_msg_id created."""
    row = await message_log.message_by_client_msg_id(conn, member, client_msg_id)
    assert row is not None  # its send committed before this one collided with it
    return (await message_views(conn, actor, [row], ctx.links))[0]


def _new_message(
    member: Member,
    client_msg_id: str | None,
    body: str,
    thread_root_id: str | None,
    created_at: Any,
    body_html: str,
) -> dict[str, Any]:
    """A new message as the API answers it: every column of messages (no seq yet), no
    files or reactions."""
    return {
        "id": str(uuid.uuid4()),
        "conversation_id": member.conversation_id,
        "seq": None,
        "sender_id": member.user_id,
        "client_msg_id": client_msg_id,
        "body": body,
        "body_html": body_html,
        "thread_root_id": thread_root_id,
        "created_at": created_at,
        "edited_at": None,
        "deleted_at": None,
        "deleted_by": None,
        "attachments": [],
        "reactions": [],
        "mentions": [],
        "mention_kind": None,
        **thread_summary(None),
    }


def clean_body(ctx: DomainContext, body: str, *, has_files: bool) -> str:
    if len(body) > ctx.settings.max_body_chars:
        raise InvalidInput(
            f"the message may have at most {ctx.settings.max_body_chars} characters",
            code="body_too_long",
            field="body",
        )
    if not body.strip() and not has_files:
        raise InvalidInput("the message is empty", code="empty_body", field="body")
    return body
