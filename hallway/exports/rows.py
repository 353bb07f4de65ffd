"""What a scope covers in the database, read as export records, a page at a time.

Each page is read in a transaction of its own (pages follow each other by conversation and
seq), so that a long export never holds one snapshot open for its whole length: a message
sent while it runs may or may not be in it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select, true

from hallway.exports.format import (
    AttachmentRecord,
    CompanyRecord,
    ConversationRecord,
    EditRecord,
    MemberRecord,
    MessageRecord,
    PersonRecord,
    PersonState,
    ReactionRecord,
    Scope,
    attachment_path,
    day_start,
)
from hallway.store.database import Connection, Database
from hallway.store.tables import (
    attachments,
    companies,
    conversations,
    message_edits,
    messages,
    participants,
    reactions,
    users,
)
from hallway.store.types import AnyRow

PAGE_MESSAGES = 500


@dataclass(frozen=True, slots=True)
class StoredFile:
    """An attachment whose bytes go into a full export."""

    attachment_id: str
    storage_key: str
    size: int


@dataclass(frozen=True, slots=True)
class Page:
    messages: list[MessageRecord]
    reactions: list[ReactionRecord]
    files: list[StoredFile]


def _message_filter(scope: Scope) -> ColumnElement[bool]:
    """Which messages of the scope's conversations it covers: `since` onwards, the scope's
    one UTC day, a person's own."""
    conditions: list[ColumnElement[bool]] = []
    if scope.day is not None:
        start = day_start(scope.day)
        conditions.append(messages.c.created_at >= start)
        conditions.append(messages.c.created_at < start + timedelta(days=1))
    if scope.since is not None:
        conditions.append(messages.c.created_at >= scope.since)
    if scope.kind == "person":
        conditions.append(messages.c.sender_id == scope.user_id)
    return and_(true(), *conditions)


def person_state(row: AnyRow) -> PersonState:
    if row.deleted_at is not None:
        return "former"
    return "deactivated" if row.deactivated_at is not None else "active"


async def company_record(conn: Connection, scope: Scope) -> CompanyRecord | None:
    row = (await conn.execute(select(companies).where(companies.c.id == scope.company_id))).first()
    if row is None:
        return None
    return CompanyRecord(id=row.id, name=row.name, created_at=row.created_at)


async def people(conn: Connection, scope: Scope) -> list[PersonRecord]:
    """Everyone of the company (the directory every member sees), or the person alone."""
    query = select(users).where(users.c.company_id == scope.company_id).order_by(users.c.id)
    if scope.kind == "person":
        query = query.where(users.c.id == scope.user_id)
    return [
        PersonRecord(
            id=r.id,
            email=r.email,
            display_name=r.display_name,
            role=r.role,
            state=person_state(r),
            created_at=r.created_at,
        )
        for r in await conn.execute(query)
    ]


async def conversation_ids(conn: Connection, scope: Scope) -> list[str]:
    """The conversations the scope covers, by id: the company's (for a day, those with
    messages that day), the one, or those the person takes part in or wrote in."""
    in_company = conversations.c.company_id == scope.company_id
    if scope.kind == "conversation":
        the_one = conversations.c.id == scope.conversation_id
        query = select(conversations.c.id).where(in_company, the_one)
    elif scope.kind == "company":
        query = select(conversations.c.id).where(in_company)
    else:
        wrote_in = select(messages.c.conversation_id).where(_message_filter(scope)).distinct()
        chosen: ColumnElement[bool] = conversations.c.id.in_(wrote_in)
        if scope.kind == "person":
            joined = select(participants.c.conversation_id).where(
                participants.c.user_id == scope.user_id
            )
            chosen = or_(chosen, conversations.c.id.in_(joined))
        query = select(conversations.c.id).where(in_company, chosen)
    return list((await conn.execute(query.order_by(conversations.c.id))).scalars())


async def conversation_records(
    conn: Connection, scope: Scope, ids: Sequence[str]
) -> list[ConversationRecord]:
    """The conversations with their members (in a person's export, only themselves)."""
    found: list[ConversationRecord] = []
    for chunk in _chunks(ids):
        member_query = select(participants).where(participants.c.conversation_id.in_(chunk))
        if scope.kind == "person":
            member_query = member_query.where(participants.c.user_id == scope.user_id)
        members: dict[str, list[MemberRecord]] = defaultdict(list)
        for m in await conn.execute(
            member_query.order_by(participants.c.conversation_id, participants.c.user_id)
        ):
            members[m.conversation_id].append(
                MemberRecord(user_id=m.user_id, role=m.role, joined_at=m.joined_at)
            )
        rows = await conn.execute(
            select(conversations).where(conversations.c.id.in_(chunk)).order_by(conversations.c.id)
        )
        found += [
            ConversationRecord(
                id=r.id,
                kind=r.kind,
                title=r.title,
                created_by=r.created_by,
                created_at=r.created_at,
                members=members[r.id],
            )
            for r in rows
        ]
    return found


async def count_messages(conn: Connection, scope: Scope, ids: Sequence[str]) -> int:
    total = 0
    for chunk in _chunks(ids):
        counted = await conn.execute(
            select(func.count())
            .select_from(messages)
            .where(messages.c.conversation_id.in_(chunk), _message_filter(scope))
        )
        total += int(counted.scalar_one())
    return total


async def message_pages(
    db: Database,
    scope: Scope,
    ids: Sequence[str],
    *,
    with_files: bool,
    page_size: int = PAGE_MESSAGES,
) -> AsyncIterator[Page]:
    """The scope's messages, conversation by conversation in seq order, each page with the
    reactions to its messages (not in a person's export: own_reactions has theirs) and
    the stored files of its attachments."""
    for conversation_id in ids:
        after = 0
        while True:
            async with db.read() as conn:
                rows = list(
                    await conn.execute(
                        select(messages)
                        .where(
                            messages.c.conversation_id == conversation_id,
                            messages.c.seq > after,
                            _message_filter(scope),
                        )
                        .order_by(messages.c.seq)
                        .limit(page_size)
                    )
                )
                if not rows:
                    break
                page = await _page(conn, scope, rows, with_files)
            yield page
            after = int(rows[-1].seq)
            if len(rows) < page_size:
                break


async def own_reactions(
    db: Database, scope: Scope, page_size: int = PAGE_MESSAGES
) -> AsyncIterator[list[ReactionRecord]]:
    """A person's reactions to messages of their company, anyone's, in pages."""
    after = ("", "")
    while True:
        async with db.read() as conn:
            rows = list(
                await conn.execute(
                    select(reactions)
                    .join(messages, messages.c.id == reactions.c.message_id)
                    .join(conversations, conversations.c.id == messages.c.conversation_id)
                    .where(
                        reactions.c.user_id == scope.user_id,
                        conversations.c.company_id == scope.company_id,
                        or_(
                            reactions.c.message_id > after[0],
                            (reactions.c.message_id == after[0]) & (reactions.c.emoji > after[1]),
                        ),
                        reactions.c.created_at >= scope.since if scope.since else true(),
                    )
                    .order_by(reactions.c.message_id, reactions.c.emoji)
                    .limit(page_size)
                )
            )
        if not rows:
            return
        yield [_reaction_record(r) for r in rows]
        after = (rows[-1].message_id, rows[-1].emoji)


async def _page(conn: Connection, scope: Scope, rows: list[AnyRow], with_files: bool) -> Page:
    kept = [r.id for r in rows if r.deleted_at is None]
    edits: dict[str, list[EditRecord]] = defaultdict(list)
    files: dict[str, list[AttachmentRecord]] = defaultdict(list)
    stored: list[StoredFile] = []
    reaction_records: list[ReactionRecord] = []
    if kept:
        for e in await conn.execute(
            select(message_edits)
            .where(message_edits.c.message_id.in_(kept))
            .order_by(message_edits.c.message_id, message_edits.c.edited_at, message_edits.c.id)
        ):
            edits[e.message_id].append(
                EditRecord(old_body=e.old_body, edited_by=e.edited_by, edited_at=e.edited_at)
            )
        for a in await conn.execute(
            select(attachments)
            .where(attachments.c.message_id.in_(kept), attachments.c.deleted_at.is_(None))
            .order_by(attachments.c.message_id, attachments.c.created_at, attachments.c.id)
        ):
            files[a.message_id].append(_attachment_record(a, with_files))
            if with_files:
                stored.append(StoredFile(a.id, a.storage_key, int(a.size)))
        if scope.kind != "person":
            reaction_records = [
                _reaction_record(r)
                for r in await conn.execute(
                    select(reactions)
                    .where(reactions.c.message_id.in_(kept))
                    .order_by(reactions.c.message_id, reactions.c.user_id, reactions.c.emoji)
                )
            ]
    return Page(
        messages=[_message_record(r, edits[r.id], files[r.id]) for r in rows],
        reactions=reaction_records,
        files=stored,
    )


def _message_record(
    row: AnyRow, edits: list[EditRecord], files: list[AttachmentRecord]
) -> MessageRecord:
    common = {
        "id": row.id,
        "conversation_id": row.conversation_id,
        "seq": int(row.seq),
        "sender_id": row.sender_id,
        "thread_root_id": row.thread_root_id,
        "created_at": row.created_at,
    }
    if row.deleted_at is not None:
        # A tombstone: erasure left no content to export, and none is read here.
        return MessageRecord(
            **common, deleted=True, deleted_at=row.deleted_at, deleted_by=row.deleted_by
        )
    return MessageRecord(
        **common, body=row.body, edited_at=row.edited_at, edits=edits, attachments=files
    )


def _attachment_record(row: AnyRow, with_files: bool) -> AttachmentRecord:
    return AttachmentRecord(
        id=row.id,
        filename=row.filename,
        content_type=row.content_type,
        size=int(row.size),
        sha256=row.sha256,
        width=row.width,
        height=row.height,
        uploader_id=row.uploader_id,
        created_at=row.created_at,
        file=attachment_path(row.id) if with_files else None,
    )


def _reaction_record(row: AnyRow) -> ReactionRecord:
    return ReactionRecord(
        message_id=row.message_id, user_id=row.user_id, emoji=row.emoji, created_at=row.created_at
    )


def _chunks(ids: Sequence[str], size: int = 500) -> list[Sequence[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]
