"""Sending a message: idempotent by client_msg_id, logged as `message.created`."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import Insert, bindparam, cast, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from hallway.domain.access import CONVERSATION_NOT_FOUND, MEMBER_CONVERSATION, member_params
from hallway.domain.actor import Actor
from hallway.domain.attachment_links import message_with_links
from hallway.domain.attachments import claim_attachments
from hallway.domain.context import DomainContext, Transaction
from hallway.domain.errors import InvalidInput, NotFound
from hallway.domain.events import allocate_member_seq, log_event, remember_event
from hallway.domain.message_views import MESSAGE_COLUMNS, message_views
from hallway.files.links import FileLinks
from hallway.store.database import Connection
from hallway.store.prepared import Prepared
from hallway.store.tables import conversations, events, messages

CREATED = "message.created"
_CLIENT_MSG_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_IDEMPOTENCY_KEY = [messages.c.conversation_id, messages.c.sender_id, messages.c.client_msg_id]
_IDEMPOTENCY_CONSTRAINT = "uq_messages_client_msg_id"


def _insert_message(dialect: Any) -> Insert:
    """INSERT of a new message that does nothing when its client_msg_id was used before."""
    statement: Insert = (
        dialect.insert(messages)
        .values({c: bindparam(c.name, type_=c.type) for c in messages.c})
        .on_conflict_do_nothing(index_elements=_IDEMPOTENCY_KEY)
        .returning(messages.c.seq)
    )
    return statement


_INSERT_MESSAGE = {
    "sqlite": Prepared(_insert_message(sqlite)),
    "postgresql": Prepared(_insert_message(postgresql)),
}


def _send_in_one_statement() -> Insert:
    """PostgreSQL, a message without files or thread: the seq allocation (which checks
    membership), the message and its `message.created` event in one statement, committed by
    itself (one round trip instead of four with BEGIN and COMMIT). No row when the actor
    does not take part; a repeated client_msg_id violates its unique constraint and so undoes
    the whole statement, seq included. The seq is known only inside the statement, so the
    event's payload gets it there."""
    seq = (
        update(conversations)
        .where(MEMBER_CONVERSATION)
        .values(
            last_seq=conversations.c.last_seq + 1,
            last_activity_at=bindparam("message_created_at"),
        )
        .returning(conversations.c.id, conversations.c.last_seq)
        .cte("seq")
    )
    # Prefixed names: a parameter named like a column of conversations would also be SET
    # by the UPDATE.
    message_values = {
        **{c.name: bindparam(f"message_{c.name}", type_=c.type) for c in messages.c},
        "conversation_id": seq.c.id,
        "seq": seq.c.last_seq,
    }
    message = (
        postgresql.insert(messages)
        .from_select(list(message_values), select(*message_values.values()))
        .returning(messages.c.conversation_id, messages.c.seq)
        .cte("message")
    )
    payload = bindparam("payload", type_=postgresql.JSONB).op("||")(
        func.jsonb_build_object(literal("seq"), message.c.seq)
    )
    return (
        events.insert()
        .from_select(
            ["conversation_id", "seq", "kind", "payload", "created_at"],
            select(
                message.c.conversation_id,
                message.c.seq,
                literal(CREATED, events.c.kind.type),
                cast(payload, events.c.payload.type),
                bindparam("message_created_at", type_=events.c.created_at.type),
            ),
        )
        .returning(events.c.seq)
    )


_SEND_IN_ONE_STATEMENT = Prepared(_send_in_one_statement())


class _Repeat(Exception):
    """Rolls back a send whose client_msg_id was used before, carrying the original."""

    def __init__(self, original: dict[str, Any]) -> None:
        self.original = original


async def _existing(
    conn: Connection,
    actor: Actor,
    conversation_id: str,
    client_msg_id: str,
    links: FileLinks,
) -> dict[str, Any]:
    row = (
        await conn.execute(
            select(*MESSAGE_COLUMNS).where(
                messages.c.conversation_id == conversation_id,
                messages.c.sender_id == actor.user_id,
                messages.c.client_msg_id == client_msg_id,
            )
        )
    ).one()
    return (await message_views(conn, actor, [row], links))[0]


async def _store(
    tx: Transaction,
    row: dict[str, Any],
    attachment_ids: list[str],
    ctx: DomainContext,
    actor: Actor,
) -> dict[str, Any] | None:
    """Insert the message, claim its files and log `message.created`: the message as
    stored, or None when its client_msg_id was used before (nothing is written then)."""
    message = {**row, "attachments": [], "reactions": []}
    conversation_id = row["conversation_id"]
    if not await tx.conn.run(_INSERT_MESSAGE[tx.conn.dialect.name], row):
        return None
    message["attachments"] = await claim_attachments(
        tx,
        actor,
        conversation_id,
        row["id"],
        attachment_ids,
        ctx.settings.max_files_per_message,
    )
    await log_event(tx, conversation_id, row["seq"], CREATED, message)
    return message


async def _send_plain_on_postgresql(
    ctx: DomainContext, actor: Actor, conversation_id: str, body: str, client_msg_id: str | None
) -> dict[str, Any] | None:
    """The message stored by _SEND_IN_ONE_STATEMENT, or None when its client_msg_id was
    used before (nothing is written then)."""
    params: dict[str, Any] = {**member_params(actor, conversation_id)}
    try:
        async with ctx.transaction(one_statement=True) as tx:
            row = _new_row(conversation_id, actor, client_msg_id, body, None, tx)
            message = {**row, "attachments": [], "reactions": []}
            params.update({f"message_{name}": value for name, value in row.items()})
            params["payload"] = message
            stored = await tx.conn.run(_SEND_IN_ONE_STATEMENT, params)
            if not stored:
                raise NotFound(CONVERSATION_NOT_FOUND)
            seq = message["seq"] = stored[0][0]
            remember_event(tx, conversation_id, seq, CREATED, message)
    except IntegrityError as exc:
        if _IDEMPOTENCY_CONSTRAINT not in str(exc.orig):
            raise
        return None
    return message


def _new_row(
    conversation_id: str,
    actor: Actor,
    client_msg_id: str | None,
    body: str,
    thread_root_id: str | None,
    tx: Transaction,
    seq: int | None = None,
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "conversation_id": conversation_id,
        "seq": seq,
        "sender_id": actor.user_id,
        "client_msg_id": client_msg_id,
        "body": body,
        "thread_root_id": thread_root_id,
        "created_at": tx.now,
        "edited_at": None,
        "deleted_at": None,
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


async def _thread_root(conn: Connection, conversation_id: str, root_id: str) -> str:
    """Threads are one level deep: replying to a reply joins the reply's thread."""
    row = (
        await conn.execute(
            select(messages.c.id, messages.c.thread_root_id).where(
                messages.c.id == root_id, messages.c.conversation_id == conversation_id
            )
        )
    ).first()
    if row is None:
        raise InvalidInput(
            "the thread root is not a message of this conversation", field="thread_root_id"
        )
    return str(row.thread_root_id or row.id)


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
    attachment_ids = attachment_ids or []
    links = ctx.links
    body = clean_body(ctx, body, has_files=bool(attachment_ids))
    if client_msg_id is not None and not _CLIENT_MSG_ID.match(client_msg_id):
        raise InvalidInput(
            "client_msg_id must be 1..64 letters, digits or . _ : -", field="client_msg_id"
        )
    if ctx.db.dialect == "postgresql" and not attachment_ids and thread_root_id is None:
        plain = await _send_plain_on_postgresql(ctx, actor, conversation_id, body, client_msg_id)
        if plain is not None:
            return plain, True
        assert client_msg_id is not None
        async with ctx.db.read() as conn:
            return await _existing(conn, actor, conversation_id, client_msg_id, links), False
    try:
        async with ctx.transaction() as tx:
            # The message takes the seq of its own `message.created` event.
            seq = await allocate_member_seq(tx, actor, conversation_id)
            if thread_root_id is not None:
                thread_root_id = await _thread_root(tx.conn, conversation_id, thread_root_id)
            row = _new_row(conversation_id, actor, client_msg_id, body, thread_root_id, tx, seq)
            message = await _store(tx, row, attachment_ids, ctx, actor)
            if message is None:
                # Only a used client_msg_id conflicts (the seq is ours under the row lock);
                # the row it collided with is committed, so this transaction sees it.
                assert client_msg_id is not None
                original = await _existing(tx.conn, actor, conversation_id, client_msg_id, links)
                raise _Repeat(original)
    except _Repeat as repeat:
        return repeat.original, False
    return message_with_links(links, message), True
