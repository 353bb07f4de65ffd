"""The workspace's conversations as the company's: public channels as channels, private
channels and group DMs as groups, DMs between two people as direct conversations.

Each new one starts its log as a conversation made in Hallway does: `member.added` at seq
1 naming its members (Slack's member list: who is in it now). Conversations imported before
are left as they are.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from hallway.domain.conversations import event_summary
from hallway.slack_import import keys, summary
from hallway.slack_import.export import SlackConversation
from hallway.slack_import.people import People
from hallway.slack_import.summary import Summary
from hallway.store.bulk import chunked, insert_rows
from hallway.store.database import Connection
from hallway.store.names import conversation_channel_key
from hallway.store.tables import conversations, events, participants

MEMBER_ADDED = "member.added"


@dataclass(frozen=True, slots=True)
class Target:
    """Where a Slack conversation's messages go."""

    id: str
    new: bool
    """Made by this run: its people have read its imported history."""


def _direct_key(a: str, b: str) -> str:
    return ":".join(sorted((a, b)))


def _members(conversation: SlackConversation, people: People) -> list[str]:
    return list(dict.fromkeys(people.ids[m] for m in conversation.members if m in people.ids))


async def _direct_conversations(
    conn: Connection, found: list[SlackConversation], people: People
) -> dict[str, str]:
    """Direct key to conversation id, of the pairs the export's DMs would make."""
    pairs = [
        _direct_key(*members)
        for c in found
        if c.kind == "direct" and len(members := _members(c, people)) == 2
    ]
    found_ids: dict[str, str] = {}
    for some in chunked(pairs):
        rows = await conn.execute(
            select(conversations.c.direct_key, conversations.c.id).where(
                conversations.c.direct_key.in_(some)
            )
        )
        found_ids.update((r.direct_key, r.id) for r in rows)
    return found_ids


async def import_conversations(
    conn: Connection,
    company_id: str,
    found: list[SlackConversation],
    people: People,
    now: datetime,
    summary_: Summary,
) -> dict[str, Target]:
    """Slack conversation id to where its messages go; conversations with nobody imported
    in them are left out (and so are their messages)."""
    known = await keys.read_keys(conn, company_id, keys.CONVERSATION)
    targets = {slack_id: Target(local_id, False) for slack_id, local_id in known.items()}
    # One direct conversation per pair of people: a DM of a pair that has one already
    # (made in Hallway since an earlier run) goes into it.
    directs = await _direct_conversations(conn, found, people)
    rows: list[dict[str, Any]] = []
    members: list[dict[str, Any]] = []
    logged: list[dict[str, Any]] = []
    for conversation in found:
        if conversation.id in known:
            continue
        member_ids = _members(conversation, people)
        if not member_ids:
            summary_.skipped[summary.NOBODY] += 1
            continue
        kind = conversation.kind
        if kind == "direct" and len(member_ids) != 2:
            kind = "group"  # a DM with a bot, or with oneself
        direct_key = _direct_key(*member_ids) if kind == "direct" else None
        if direct_key in directs:
            targets[conversation.id] = Target(directs[direct_key], False)
            continue
        created_at = (
            datetime.fromtimestamp(conversation.created, UTC)
            if conversation.created is not None
            else now
        )
        creator = people.ids.get(conversation.creator or "")
        if creator not in member_ids:
            creator = member_ids[0]
        conversation_id = str(uuid.uuid4())
        row: dict[str, Any] = {
            "id": conversation_id,
            "company_id": company_id,
            "kind": kind,
            "title": conversation.title,
            "created_by": creator,
            "direct_key": direct_key,
            "channel_key": conversation_channel_key(kind, conversation.title),
            "last_seq": 1,
            "last_activity_at": created_at,
            "created_at": created_at,
        }
        rows.append(row)
        ordered = [creator, *(m for m in member_ids if m != creator)]
        members += [
            {
                "conversation_id": row["id"],
                "user_id": user_id,
                "role": "owner" if user_id == creator and kind != "direct" else "member",
                "joined_at": created_at,
                "last_read_seq": 0,
            }
            for user_id in ordered
        ]
        logged.append(
            {
                "conversation_id": row["id"],
                "seq": 1,
                "kind": MEMBER_ADDED,
                "payload": {
                    "user_ids": ordered,
                    "added_by": creator,
                    "conversation": event_summary(row),
                },
                "created_at": created_at,
                "message_id": None,
            }
        )
        targets[conversation.id] = Target(conversation_id, True)
        if direct_key is not None:
            directs[direct_key] = conversation_id
        summary_.imported[f"{kind} conversations"] += 1
    await insert_rows(conn, conversations, rows)
    await insert_rows(conn, participants, members)
    await insert_rows(conn, events, logged)
    pairs = [(c.id, targets[c.id].id) for c in found if c.id in targets and c.id not in known]
    await keys.write_keys(conn, company_id, keys.CONVERSATION, pairs)
    return targets
