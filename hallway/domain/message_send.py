"""Sending a message: idempotent by client_msg_id, logged as `message.created`."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import (
    CTE,
    ColumnElement,
    FromClause,
    Insert,
    Select,
    Text,
    bindparam,
    cast,
    column,
    exists,
    func,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from hallway.domain.access import CONVERSATION_NOT_FOUND, MEMBER_CONVERSATION, member_params
from hallway.domain.actor import Actor
from hallway.domain.attachment_links import message_with_links
from hallway.domain.attachments import claim_attachments
from hallway.domain.batching import HandOn
from hallway.domain.context import Committed, DomainContext, Transaction
from hallway.domain.errors import InvalidInput, NotFound
from hallway.domain.events import allocate_member_seq, log_event, remember_event
from hallway.domain.message_views import MESSAGE_COLUMNS, message_views
from hallway.files.links import FileLinks
from hallway.store.database import Connection, dumps_json
from hallway.store.prepared import Prepared
from hallway.store.tables import conversations, events, messages, participants

CREATED = "message.created"
_CLIENT_MSG_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_IDEMPOTENCY_KEY = [messages.c.conversation_id, messages.c.sender_id, messages.c.client_msg_id]
_IDEMPOTENCY_CONSTRAINT = "uq_messages_client_msg_id"
_T = TypeVar("_T")
Sent = tuple[dict[str, Any], bool]
"""The message and whether this send created it (False: its client_msg_id was used)."""


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
        .returning(messages.c.id, messages.c.conversation_id, messages.c.seq)
        .cte("message")
    )
    payload = bindparam("payload", type_=postgresql.JSONB)
    created_at = bindparam("message_created_at", type_=events.c.created_at.type)
    return _log_created(message, message, payload, created_at).returning(events.c.seq)


def _log_created(
    message: CTE, source: FromClause, payload: ColumnElement[Any], created_at: ColumnElement[Any]
) -> Insert:
    """INSERT of the `message.created` events of the messages a CTE stored (its columns
    id, conversation_id and seq), from `source`: each event's payload is `payload` (JSONB)
    with the message's seq put in, since the seq is known only inside the statement."""
    with_seq = payload.op("||")(func.jsonb_build_object(literal("seq"), message.c.seq))
    return events.insert().from_select(
        ["conversation_id", "seq", "kind", "payload", "created_at", "message_id"],
        select(
            message.c.conversation_id,
            message.c.seq,
            literal(CREATED, events.c.kind.type),
            cast(with_seq, events.c.payload.type),
            created_at,
            message.c.id,
        ).select_from(source),
    )


_SEND_IN_ONE_STATEMENT = Prepared(_send_in_one_statement())

# Each column of a batch and the array parameter that carries it.
_BATCH_COLUMNS = {
    "id": "ids",
    "sender_id": "sender_ids",
    "client_msg_id": "client_msg_ids",
    "body": "bodies",
    "payload": "payloads",
}


def _send_together_in_one_statement() -> Select[str, int]:
    """PostgreSQL, several messages without files or thread for one conversation: what
    _SEND_IN_ONE_STATEMENT does for one, for each sender who takes part in it, in the
    order given, with consecutive seqs. The values come as one array per column (`ids`,
    `sender_ids`, `client_msg_ids`, `bodies`, and `payloads` as JSON text); the rows are
    (id, seq) of the messages stored. A repeated client_msg_id undoes them all."""
    batch = (
        func.unnest(
            *(bindparam(array, type_=postgresql.ARRAY(Text)) for array in _BATCH_COLUMNS.values())
        )
        .table_valued(*(column(name, Text) for name in _BATCH_COLUMNS), with_ordinality="n")
        .render_derived(name="batch")
    )
    allowed = (
        select(batch, func.row_number().over(order_by=batch.c.n).label("k"))
        .where(
            exists().where(
                participants.c.conversation_id == bindparam("cid"),
                participants.c.user_id == batch.c.sender_id,
            )
        )
        .cte("allowed")
    )
    count = select(func.count()).select_from(allowed).scalar_subquery()
    now = bindparam("now", type_=messages.c.created_at.type)
    seq = (
        update(conversations)
        .where(
            conversations.c.id == bindparam("cid"),
            conversations.c.company_id == bindparam("company"),
            exists().select_from(allowed),
        )
        .values(last_seq=conversations.c.last_seq + count, last_activity_at=now)
        .returning(conversations.c.id, conversations.c.last_seq)
        .cte("seq")
    )
    message = (
        postgresql.insert(messages)
        .from_select(
            ["id", "conversation_id", "seq", "sender_id", "client_msg_id", "body", "created_at"],
            select(
                allowed.c.id,
                seq.c.id,
                seq.c.last_seq - count + allowed.c.k,
                allowed.c.sender_id,
                allowed.c.client_msg_id,
                allowed.c.body,
                now,
            ).select_from(allowed.join(seq, true())),
        )
        .returning(messages.c.id, messages.c.conversation_id, messages.c.seq)
        .cte("message")
    )
    event = _log_created(
        message,
        message.join(allowed, allowed.c.id == message.c.id),
        cast(allowed.c.payload, postgresql.JSONB),
        now,
    ).cte("event")
    return select(message.c.id, message.c.seq).add_cte(event)


_SEND_TOGETHER_IN_ONE_STATEMENT = Prepared(_send_together_in_one_statement())


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
    message = _message_of(row)
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
    await log_event(tx, conversation_id, row["seq"], CREATED, message, message_id=row["id"])
    return message


@dataclass(frozen=True, slots=True)
class _PlainSend:
    """A message without files or thread, on PostgreSQL: what one caller asked to send."""

    ctx: DomainContext
    actor: Actor
    conversation_id: str
    body: str
    client_msg_id: str | None
    committed: Committed | None


def _on_commit(hand_on: HandOn, sends: Sequence[_PlainSend]) -> Committed:
    """At commit: the conversation's next sends may start, then what each caller started."""

    def committed() -> None:
        hand_on()
        for send in sends:
            if send.committed is not None:
                send.committed()

    return committed


async def _send_plain_alone(send: _PlainSend, hand_on: HandOn) -> Sent:
    """One send by _SEND_IN_ONE_STATEMENT; a client_msg_id used before writes nothing and
    answers the original."""
    ctx, actor, conversation_id = send.ctx, send.actor, send.conversation_id
    params: dict[str, Any] = {**member_params(actor, conversation_id)}
    try:
        async with ctx.transaction(one_statement=True, committed=_on_commit(hand_on, [send])) as tx:
            row = _new_row(conversation_id, actor, send.client_msg_id, send.body, None, tx)
            message = _message_of(row)
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
        assert send.client_msg_id is not None
        async with ctx.db.read() as conn:
            original = await _existing(conn, actor, conversation_id, send.client_msg_id, ctx.links)
        return original, False
    return message, True


async def _send_plain_together(
    sends: Sequence[_PlainSend], hand_on: HandOn
) -> list[Sent | Exception]:
    """Sends that queued for one conversation (and company), in one statement; each
    answers as it would have alone."""
    first = sends[0]
    try:
        async with first.ctx.transaction(
            one_statement=True, committed=_on_commit(hand_on, sends)
        ) as tx:
            created = [
                _message_of(
                    _new_row(
                        send.conversation_id, send.actor, send.client_msg_id, send.body, None, tx
                    )
                )
                for send in sends
            ]
            params = {
                "cid": first.conversation_id,
                "company": first.actor.company_id,
                "now": tx.now,
                "ids": [message["id"] for message in created],
                "sender_ids": [message["sender_id"] for message in created],
                "client_msg_ids": [message["client_msg_id"] for message in created],
                "bodies": [message["body"] for message in created],
                "payloads": [dumps_json(message) for message in created],
            }
            seqs: dict[str, int] = dict(await tx.conn.run(_SEND_TOGETHER_IN_ONE_STATEMENT, params))
            outcomes: list[Sent | Exception] = []
            for message in created:
                seq = seqs.get(message["id"])
                if seq is None:  # the sender takes no part in the conversation
                    outcomes.append(NotFound(CONVERSATION_NOT_FOUND))
                    continue
                message["seq"] = seq
                remember_event(tx, message["conversation_id"], seq, CREATED, message)
                outcomes.append((message, True))
    except IntegrityError as exc:
        if _IDEMPOTENCY_CONSTRAINT not in str(exc.orig):
            raise
        # A client_msg_id used before, or twice in this batch: nothing was written; one
        # by one, each send finds out which. The conversation is handed on after the last,
        # so that these keep the order they came in.
        return [await _outcome(_send_plain_alone(send, _keep_the_lane)) for send in sends]
    return outcomes


def _keep_the_lane() -> None:
    return None


async def _outcome(result: Awaitable[_T]) -> _T | Exception:
    try:
        return await result
    except Exception as error:
        return error


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
        "deleted_by": None,
    }


def _message_of(row: dict[str, Any]) -> dict[str, Any]:
    """A new message as the API answers it: its row, no files or reactions yet."""
    return {**row, "attachments": [], "reactions": []}


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
    committed: Committed | None = None,
) -> tuple[dict[str, Any], bool]:
    """Returns (message, created). A repeated client_msg_id returns the original message.

    `committed` is called when the transaction this send ran in commits, before the
    message is published; a send that wrote nothing (a repeat, most refusals) never calls
    it. A caller that keeps its sends in order starts its next one then, while this one
    fans out."""
    await ctx.rate_limits.hit(ctx.rate_limits.send, actor.user_id)
    attachment_ids = attachment_ids or []
    links = ctx.links
    body = clean_body(ctx, body, has_files=bool(attachment_ids))
    if client_msg_id is not None and not _CLIENT_MSG_ID.match(client_msg_id):
        raise InvalidInput(
            "client_msg_id must be 1..64 letters, digits or . _ : -", field="client_msg_id"
        )
    if ctx.db.dialect == "postgresql" and not attachment_ids and thread_root_id is None:
        member_params(actor, conversation_id)  # NotFound before queueing for what is no id
        sent: Sent = await ctx.write_batches.submit(
            ("send", conversation_id, actor.company_id),
            _PlainSend(ctx, actor, conversation_id, body, client_msg_id, committed),
            _send_plain_alone,
            _send_plain_together,
        )
        return sent
    try:
        async with ctx.transaction(committed=committed) as tx:
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
