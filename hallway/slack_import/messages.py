"""A Slack conversation's messages into its Hallway conversation, in bulk.

Messages go in timestamp order, a batch a transaction: the batch takes its seqs at once
(one UPDATE of last_seq), then its messages, files, reactions, events and import keys go in
with one bulk insert per table. The log reads as if the history had happened here: each
message's `message.created` event (its data as a send logs it) under the message's seq,
then a `reaction.added` for each of its reactions. Its mentions are stored as a send
stores them (hallway/domain/mentions.py), from the people and broadcasts its Slack text
references; nothing is published, so the history notifies nobody. A message whose Slack ts
was imported before is left alone, so a second run writes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, select, update

from hallway.config import Settings
from hallway.domain.attachment_upload import clean_filename
from hallway.domain.mentions import NOBODY, MentionKind, Resolved, mention_rows
from hallway.domain.message_format import render_body
from hallway.domain.message_send import CREATED
from hallway.files.storage import Storage
from hallway.slack_import import keys, summary
from hallway.slack_import.emoji_names import unicode_emoji
from hallway.slack_import.export import SlackConversation, SlackExport, is_ts
from hallway.slack_import.files import store_file
from hallway.slack_import.mrkdwn import Mentioned, mentioned, render
from hallway.slack_import.people import People
from hallway.slack_import.progress import ProgressBar
from hallway.slack_import.summary import Summary
from hallway.store.bulk import insert_rows
from hallway.store.database import Database
from hallway.store.tables import (
    attachments,
    conversations,
    events,
    mentions,
    messages,
    participants,
    reactions,
)

BATCH = 2_000
REACTION_ADDED = "reaction.added"
# Messages people wrote; a broadcast thread reply is kept as the reply it is.
_KEPT_SUBTYPES = frozenset({None, "thread_broadcast", "file_share", "me_message"})
# Slack's broadcasts as Hallway's mention kinds: `@everyone` (the whole workspace, in Slack's
# general channel) reaches every member of the conversation, as `@channel` does.
_BROADCAST_KINDS: dict[str, MentionKind] = {
    "channel": "channel",
    "everyone": "channel",
    "here": "here",
}


def slack_time(ts: str) -> datetime:
    """A Slack ts ("1503435956.000247": seconds and microseconds) as a UTC datetime."""
    seconds, _, fraction = ts.partition(".")
    micros = int(fraction[:6].ljust(6, "0")) if fraction else 0
    return datetime.fromtimestamp(int(seconds), UTC) + timedelta(microseconds=micros)


@dataclass(slots=True)
class _File:
    id: str
    member: str
    filename: str


@dataclass(slots=True)
class _Message:
    ts: str
    row: dict[str, Any]
    files: list[_File] = field(default_factory=list)
    reactions: list[tuple[str, str]] = field(default_factory=list)  # (user id, emoji)
    mentions: Resolved = NOBODY


@dataclass
class ConversationImport:
    """One conversation's messages, read from the export and written in batches."""

    db: Database
    settings: Settings
    storage: Storage
    export: SlackExport
    company_id: str
    slack: SlackConversation
    conversation_id: str
    people: People
    channel_names: Mapping[str, str]
    summary: Summary
    bar: ProgressBar
    _roots: dict[str, str] = field(default_factory=dict)
    """Slack ts to message id, of this conversation's messages: thread roots."""
    _members: frozenset[str] = frozenset()
    """Hallway ids of the conversation's members: the only people a mention may name."""

    async def run(self) -> int:
        """Import what is new; how many messages that was."""
        async with self.db.read() as conn:
            self._roots = await keys.read_keys(
                conn, self.company_id, keys.MESSAGE, scope=self.slack.id
            )
            self._members = frozenset(
                (
                    await conn.execute(
                        select(participants.c.user_id).where(
                            participants.c.conversation_id == self.conversation_id
                        )
                    )
                ).scalars()
            )
        imported_before = set(self._roots)
        count = 0
        batch: list[_Message] = []
        for day in self.export.days(self.slack):
            for record in self._in_order(day):
                self.bar.advance()
                if record["ts"] in imported_before:
                    self.summary.skipped[summary.ALREADY] += 1
                    continue
                message = self._message(record)
                if message is None:
                    continue
                self._roots[message.ts] = message.row["id"]
                batch.append(message)
                if len(batch) >= BATCH:
                    count += await self._write(batch)
                    batch = []
        if batch:
            count += await self._write(batch)
        return count

    def _in_order(self, day: list[Any]) -> list[dict[str, Any]]:
        records = []
        for record in day:
            if isinstance(record, dict) and is_ts(record.get("ts")):
                records.append(record)
            else:
                self.bar.advance()
                self.summary.skipped[summary.MALFORMED] += 1
        return sorted(records, key=lambda r: slack_time(r["ts"]))

    def _skip(self, reason: str) -> None:
        self.summary.skipped[reason] += 1

    def _message(self, record: dict[str, Any]) -> _Message | None:
        """The message to import, or None (counted under why) for one left out."""
        subtype = record.get("subtype")
        user = record.get("user")
        if subtype == "bot_message" or user in self.people.bots:
            self._skip(summary.BOT_MESSAGE)
            return None
        if subtype not in _KEPT_SUBTYPES:
            self._skip(summary.unsupported(str(subtype)))
            return None
        sender = self.people.ids.get(user) if isinstance(user, str) else None
        if sender is None:
            self._skip(summary.BOT_MESSAGE if record.get("bot_id") else summary.UNKNOWN_USER)
            return None
        ts = str(record["ts"])
        text = record.get("text")
        slack_text = text if isinstance(text, str) else ""
        body = render(slack_text, self.people.names, self.channel_names)
        files, missing = self._files(record)
        body = _with_missing(body, missing)
        if not body.strip() and not files:
            self._skip(summary.EMPTY)
            return None
        created_at = slack_time(ts)
        thread_ts = record.get("thread_ts")
        root = self._roots.get(thread_ts) if is_ts(thread_ts) and thread_ts != ts else None
        edited = record.get("edited")
        edited_ts = edited.get("ts") if isinstance(edited, dict) else None
        row = {
            "id": str(uuid.uuid4()),
            "conversation_id": self.conversation_id,
            "seq": None,
            "sender_id": sender,
            "client_msg_id": None,
            "body": body,
            "thread_root_id": root,
            "created_at": created_at,
            "edited_at": slack_time(edited_ts) if is_ts(edited_ts) else None,
            "deleted_at": None,
            "deleted_by": None,
            "body_html": render_body(body),
        }
        mentions_ = self._mentions(mentioned(slack_text), sender)
        return _Message(ts, row, files, self._reactions(record), mentions_)

    def _mentions(self, referenced: Mentioned, sender: str) -> Resolved:
        """What the message mentions, by the rule of a send: members only, never the
        sender, `channel` over `here`."""
        ids = self.people.ids
        user_ids = {ids[slack_id] for slack_id in referenced.people if slack_id in ids}
        named = sorted(u for u in user_ids if u in self._members and u != sender)
        kinds = {_BROADCAST_KINDS[b] for b in referenced.broadcasts}
        kind: MentionKind | None = (
            "channel" if "channel" in kinds else "here" if "here" in kinds else None
        )
        return Resolved(named, kind)

    def _files(self, record: dict[str, Any]) -> tuple[list[_File], list[str]]:
        """The message's files the export holds, and the names of those it does not."""
        found: list[_File] = []
        missing: list[str] = []
        for file in record.get("files") or []:
            if not isinstance(file, dict):
                continue
            name = clean_filename(str(file.get("name") or file.get("title") or "file"))
            file_id = file.get("id")
            member = self.export.upload(file_id) if isinstance(file_id, str) else None
            if member is None:
                self._skip(summary.MISSING_FILE)
                missing.append(name)
            else:
                found.append(_File(str(uuid.uuid4()), member, name))
        return found, missing

    def _reactions(self, record: dict[str, Any]) -> list[tuple[str, str]]:
        found: dict[tuple[str, str], None] = {}
        for reaction in record.get("reactions") or []:
            if not isinstance(reaction, dict) or not isinstance(reaction.get("name"), str):
                continue
            who = [u for u in reaction.get("users") or [] if isinstance(u, str)]
            emoji = unicode_emoji(reaction["name"])
            if emoji is None:
                self.summary.skipped[summary.CUSTOM_EMOJI] += len(who)
                continue
            for slack_id in who:
                user_id = self.people.ids.get(slack_id)
                if user_id is None:
                    self._skip(summary.UNKNOWN_REACTOR)
                else:
                    found[(user_id, emoji)] = None
        return list(found)

    async def _store_files(self, batch: list[_Message]) -> tuple[list[dict[str, Any]], list[str]]:
        """Each file of the batch in storage: attachment rows, and the keys written (to
        remove should the batch fail). A file refused is named in its message's body."""
        rows: list[dict[str, Any]] = []
        stored: list[str] = []
        for message in batch:
            refused = []
            for file in message.files:
                key = f"{self.company_id}/{self.conversation_id}/{file.id}"
                kept = await store_file(self.settings, self.storage, self.export, file.member, key)
                if kept is None:
                    self._skip(summary.FILE_REFUSED)
                    refused.append(file.filename)
                    continue
                stored += [key, *([kept.thumb_key] if kept.thumb_key else [])]
                rows.append(
                    {
                        "id": file.id,
                        "company_id": self.company_id,
                        "conversation_id": self.conversation_id,
                        "uploader_id": message.row["sender_id"],
                        "message_id": message.row["id"],
                        "filename": file.filename,
                        "content_type": kept.content_type,
                        "size": kept.size,
                        "sha256": kept.sha256,
                        "storage_key": key,
                        "thumb_key": kept.thumb_key,
                        "width": kept.width,
                        "height": kept.height,
                        "created_at": message.row["created_at"],
                        "deleted_at": None,
                    }
                )
            if refused:
                message.row["body"] = _with_missing(message.row["body"], refused)
                message.row["body_html"] = render_body(message.row["body"])
        return rows, stored

    async def _write(self, batch: list[_Message]) -> int:
        attachment_rows, stored = await self._store_files(batch)
        try:
            await self._insert(batch, attachment_rows)
        except BaseException:
            await self.storage.delete(stored)
            raise
        self.summary.imported["messages"] += len(batch)
        self.summary.imported["files"] += len(attachment_rows)
        return len(batch)

    async def _insert(self, batch: list[_Message], attachment_rows: list[dict[str, Any]]) -> None:
        files_of: dict[str, list[dict[str, Any]]] = {}
        for a in attachment_rows:
            files_of.setdefault(a["message_id"], []).append(_attachment_data(a))
        count = len(batch) + sum(len(m.reactions) for m in batch)
        latest = max(m.row["created_at"] for m in batch)
        async with self.db.write() as conn:
            last_seq = (
                await conn.execute(
                    update(conversations)
                    .where(conversations.c.id == self.conversation_id)
                    .values(
                        last_seq=conversations.c.last_seq + count,
                        last_activity_at=case(
                            (conversations.c.last_activity_at < latest, latest),
                            else_=conversations.c.last_activity_at,
                        ),
                    )
                    .returning(conversations.c.last_seq)
                )
            ).scalar_one()
            seq = int(last_seq) - count
            logged: list[dict[str, Any]] = []
            reaction_rows: list[dict[str, Any]] = []
            mentioned: list[dict[str, Any]] = []
            for message in batch:
                seq += 1
                row = message.row
                row["seq"] = seq
                data = {
                    **row,
                    "attachments": files_of.get(row["id"], []),
                    "reactions": [],
                    **message.mentions.fields(),
                }
                # Dated when the message was written.
                mentioned += mention_rows(row, message.mentions, self.company_id, row["created_at"])
                logged.append(_event(row, seq, CREATED, data))
                for user_id, emoji in message.reactions:
                    seq += 1
                    added = {"message_id": row["id"], "emoji": emoji, "user_id": user_id}
                    logged.append(_event(row, seq, REACTION_ADDED, added))
                    reaction_rows.append(
                        {
                            "message_id": row["id"],
                            "user_id": user_id,
                            "emoji": emoji,
                            "created_at": row["created_at"],
                        }
                    )
            await insert_rows(conn, messages, [m.row for m in batch])
            await insert_rows(conn, attachments, attachment_rows)
            await insert_rows(conn, reactions, reaction_rows)
            await insert_rows(conn, mentions, mentioned)
            await insert_rows(conn, events, logged)
            pairs = [(m.ts, m.row["id"]) for m in batch]
            await keys.write_keys(conn, self.company_id, keys.MESSAGE, pairs, scope=self.slack.id)
        self.summary.imported["reactions"] += len(reaction_rows)


def _event(row: dict[str, Any], seq: int, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "conversation_id": row["conversation_id"],
        "seq": seq,
        "kind": kind,
        "payload": data,
        "created_at": row["created_at"],
        "message_id": row["id"],
    }


def _attachment_data(row: dict[str, Any]) -> dict[str, Any]:
    """As the event log keeps a file (message_views.attachment_dict)."""
    return {key: row[key] for key in ("id", "filename", "content_type", "size", "width", "height")}


def _with_missing(body: str, names: list[str]) -> str:
    """The body, with a line for each file that could not come along."""
    lines = [f"[file not imported: {name}]" for name in names]
    return "\n".join([body, *lines]).strip() if lines else body
