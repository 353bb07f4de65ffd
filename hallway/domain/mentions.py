"""Mentions: who a message names with `@`, resolved against the conversation's members when
it is sent or edited, stored in `mentions`, counted per conversation and listed per person.

The rule (docs/api.md, "Mentions"):
- A mention starts with `@` at the start of the body or after a character that is not a
  letter, digit or `_` (so `bob@example.com` mentions nobody).
- `@channel` and `@here` (any case) mention everyone; `@here` is meant for those online.
- Otherwise the longest display name of a current member that follows the `@`, compared
  without regard to case, and not followed directly by a letter, digit or `_`: with
  members "Bob" and "Bob Smith", `@bob smith!` mentions Bob Smith and `@Bob, hi` Bob.
- The sender mentioning themselves, and names of people who are not members, mention
  nobody and are not stored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, delete, select

from hallway.store.database import Connection
from hallway.store.tables import mentions, participants, users

MentionKind = Literal["channel", "here"]
BROADCASTS: dict[str, MentionKind] = {"channel": "channel", "here": "here"}


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a body mentions: member ids (sorted, never the sender) and a broadcast."""

    user_ids: list[str]
    kind: MentionKind | None

    def fields(self) -> dict[str, Any]:
        """The message dict's `mentions` and `mention_kind`."""
        return {"mentions": list(self.user_ids), "mention_kind": self.kind}


NOBODY = Resolved([], None)


def may_mention(body: str) -> bool:
    """Whether the body could mention anyone: the cheap test that keeps plain sends fast."""
    return "@" in body


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def resolve(body: str, members: Sequence[tuple[str, str]], sender_id: str | None) -> Resolved:
    """The mentions of `body` among `members` ((user_id, display_name) pairs)."""
    if not may_mention(body):
        return NOBODY
    # Longest names first, so that the first that fits is the longest match.
    names = sorted(
        ((name.casefold(), len(name), uid) for uid, name in members if name),
        key=lambda item: -item[1],
    )
    found: set[str] = set()
    kind: MentionKind | None = None
    at = body.find("@")
    while at != -1:
        if at == 0 or not _is_word(body[at - 1]):
            start = at + 1
            broadcast = _broadcast_at(body, start)
            if broadcast is not None:
                kind = "channel" if "channel" in (kind, broadcast) else "here"
            else:
                for folded, length, uid in names:
                    end = start + length
                    if body[start:end].casefold() == folded and (
                        end == len(body) or not _is_word(body[end])
                    ):
                        # The longest name wins even when it is the sender's own.
                        if uid != sender_id:
                            found.add(uid)
                        break
        at = body.find("@", at + 1)
    return Resolved(sorted(found), kind)


def _broadcast_at(body: str, start: int) -> MentionKind | None:
    for word, kind in BROADCASTS.items():
        end = start + len(word)
        if body[start:end].lower() == word and (end == len(body) or not _is_word(body[end])):
            return kind
    return None


async def member_names(conn: Connection, conversation_id: str) -> list[tuple[str, str]]:
    """(user_id, display_name) of the conversation's current members."""
    rows = await conn.execute(
        select(participants.c.user_id, users.c.display_name)
        .join(users, users.c.id == participants.c.user_id)
        .where(participants.c.conversation_id == conversation_id)
    )
    return [(r.user_id, r.display_name) for r in rows]


async def store_mentions(
    conn: Connection,
    message: dict[str, Any],
    company_id: str,
    now: datetime,
    *,
    replace: bool = False,
) -> Resolved:
    """Resolve the message's mentions against its conversation's members and store them in
    the caller's transaction (`replace`: an edit, whose earlier mentions go)."""
    if replace:
        await conn.execute(delete(mentions).where(mentions.c.message_id == message["id"]))
    if not may_mention(message["body"]):
        return NOBODY
    members = await member_names(conn, message["conversation_id"])
    resolved = resolve(message["body"], members, message["sender_id"])
    rows = mention_rows(message, resolved, company_id, now)
    if rows:
        await conn.execute(mentions.insert(), rows)
    return resolved


def mention_rows(
    message: dict[str, Any], resolved: Resolved, company_id: str, created_at: datetime
) -> list[dict[str, Any]]:
    """The mentions table's rows for a message's resolved mentions: one per person named,
    one for a broadcast."""
    base = {
        "message_id": message["id"],
        "conversation_id": message["conversation_id"],
        "company_id": company_id,
        "seq": message["seq"],
        "created_at": created_at,
    }
    rows = [{**base, "user_id": uid, "kind": "person"} for uid in resolved.user_ids]
    if resolved.kind is not None:
        rows.append({**base, "user_id": None, "kind": resolved.kind})
    return rows


async def load_mentions(conn: Connection, message_ids: list[str]) -> dict[str, Resolved]:
    """Per message (those that mention anyone): its stored mentions."""
    if not message_ids:
        return {}
    rows = await conn.execute(
        select(mentions.c.message_id, mentions.c.user_id, mentions.c.kind).where(
            mentions.c.message_id.in_(message_ids)
        )
    )
    people: dict[str, list[str]] = defaultdict(list)
    kinds: dict[str, MentionKind | None] = {}
    for r in rows:
        kinds.setdefault(r.message_id, None)
        if r.user_id is not None:
            people[r.message_id].append(r.user_id)
        else:
            kinds[r.message_id] = BROADCASTS[r.kind]
    return {mid: Resolved(sorted(people[mid]), kind) for mid, kind in kinds.items()}


def mentions_me(actor_id: str) -> ColumnElement[bool]:
    """The mention rows that count for this person: by name, or `@channel`. `@here` is a
    live ping for those online, so it counts in no badge or list afterwards."""
    return (mentions.c.user_id == actor_id) | (mentions.c.kind == "channel")
