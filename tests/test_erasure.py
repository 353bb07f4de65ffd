"""Deleting a message erases it: none of its bodies (first, edited, edited again), its
reactions or its file is left to anyone, in any read (history, the message, its thread,
its edits, search, the conversation list, the event log over HTTP and a WebSocket replay
from a real server), nor in any row of the database; the log keeps every seq and kind."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import RowMapping, select

from hallway.config import Settings
from hallway.domain import message_delete, message_edit, reactions
from hallway.domain.access import message_for_member
from hallway.domain.actor import Actor
from hallway.store.database import Connection, Database
from hallway.store.tables import events
from tests.files_support import png_bytes, uploaded
from tests.support import (
    Directory,
    Person,
    ServerProcess,
    authenticated_socket,
    company_rows,
    error_of,
    on_postgresql,
    realtime,
    send,
)

pytestmark = pytest.mark.anyio

# Words that occur nowhere else, one per text that must go.
FIRST, SECOND, THIRD = "zebrafirst", "zebrasecond", "zebrathird"
REPLY, PLAIN, FILENAME = "quokkareply", "yakplain", "wombatfile"
ERASED_WORDS = [FIRST, SECOND, THIRD, REPLY, PLAIN, FILENAME]
ERASED_EMOJI = ["🦓", "🦘"]
KEPT = "innocent words stay"


@dataclass
class Channel:
    """A channel where three messages were written, changed, then deleted; `newcomer`
    joined after the deletes."""

    admin: Person
    sender: Person
    member: Person
    newcomer: Person
    cid: str
    root: dict[str, Any]  # sent with a file, edited twice, reacted to; deleted by its sender
    doomed_reply: dict[str, Any]  # a reply to root; deleted by the channel's owner
    plain: dict[str, Any]  # no file, no thread (PostgreSQL's one-statement send)
    kept_reply: dict[str, Any]

    @property
    def viewers(self) -> list[Person]:
        return [self.sender, self.member, self.newcomer]


def messages_url(cid: str) -> str:
    return f"/api/v1/conversations/{cid}/messages"


def assert_erased(text: str) -> None:
    for word in [*ERASED_WORDS, *ERASED_EMOJI]:
        assert word not in text, f"{word!r} is still in {text[:2000]}"


async def answer(person: Person, url: str, **params: Any) -> Any:
    r = await person.get(url, params=params)
    assert r.status_code == 200, r.text
    assert_erased(r.text)
    return r.json()


async def edit(person: Person, message_id: str, body: str) -> None:
    r = await person.patch(f"/api/v1/messages/{message_id}", json={"body": body})
    assert r.status_code == 200, r.text


async def react(person: Person, message_id: str, emoji: str, *, take_back: bool = False) -> None:
    url = f"/api/v1/messages/{message_id}/reactions/{emoji}"
    r = await (person.delete(url) if take_back else person.put(url))
    assert r.status_code == 204, r.text


async def delete(person: Person, message_id: str) -> None:
    r = await person.delete(f"/api/v1/messages/{message_id}")
    assert r.status_code == 204, r.text


async def written_then_deleted(live: Directory) -> Channel:
    admin = await live.company("Acme")
    sender = await live.colleague(admin, "Sam")
    member = await live.colleague(admin, "Mia")
    newcomer = await live.colleague(admin, "Nia")
    channel = await live.conversation(admin, "channel", [sender, member], "erasure")
    cid = channel["id"]

    file = await uploaded(
        sender, cid, png_bytes(), filename=f"{FILENAME}.png", claimed_type="image/png"
    )
    root = await send(sender, cid, f"the {FIRST} draft", attachment_ids=[file["id"]])
    kept_reply = await send(member, cid, KEPT, thread_root_id=root["id"])
    doomed_reply = await send(sender, cid, f"a {REPLY} to go", thread_root_id=root["id"])
    plain = await send(member, cid, f"a {PLAIN} thought")
    await edit(sender, root["id"], f"the {SECOND} draft")
    await edit(sender, root["id"], f"the {THIRD} draft")
    await react(member, root["id"], ERASED_EMOJI[0])
    await react(sender, root["id"], ERASED_EMOJI[1])
    await react(member, root["id"], ERASED_EMOJI[0], take_back=True)
    await edit(sender, doomed_reply["id"], f"a {REPLY} edited")

    await delete(sender, root["id"])
    await delete(admin, doomed_reply["id"])  # the channel's owner
    await delete(member, plain["id"])
    joined = await newcomer.post(
        f"/api/v1/conversations/{cid}/members", json={"user_ids": [newcomer.id]}
    )
    assert joined.status_code == 200, joined.text
    return Channel(admin, sender, member, newcomer, cid, root, doomed_reply, plain, kept_reply)


@pytest.fixture
async def channel(live: Directory) -> Channel:
    return await written_then_deleted(live)


def deleted_view(message: dict[str, Any], by: Person) -> dict[str, Any]:
    """What history shows of `message` (as its send answered it) once `by` deleted it."""
    return {
        **{k: message[k] for k in ("id", "conversation_id", "seq", "sender_id")},
        **{k: message[k] for k in ("client_msg_id", "thread_root_id", "created_at")},
        "body": "",
        "body_html": "",
        "edited_at": None,
        "deleted_at": message.get("deleted_at"),
        "deleted_by": by.id,
        "attachments": [],
        "reactions": [],
        "mentions": [],
        "mention_kind": None,
    }


# A deleted root keeps its thread: what it counts is tests/test_threads.py's to check.
THREAD_SUMMARY = ("reply_count", "last_reply_at", "reply_user_ids")


def without_thread_summary(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k not in THREAD_SUMMARY}


def checked_tombstone(found: dict[str, Any], message: dict[str, Any], by: Person) -> None:
    assert found["deleted_at"] is not None
    assert without_thread_summary(found) == deleted_view(
        {**message, "deleted_at": found["deleted_at"]}, by
    )


# --- reads over HTTP ------------------------------------------------------------------------


async def check_the_event_log(channel: Channel) -> None:
    """Every seq and kind stays; the root's earlier events are tombstones."""
    root_id = channel.root["id"]
    logs = []
    for viewer in channel.viewers:
        page = await answer(viewer, f"/api/v1/conversations/{channel.cid}/events", after_seq=0)
        assert not page["has_more"]
        assert [e["seq"] for e in page["events"]] == list(range(1, page["last_seq"] + 1))
        logs.append(page["events"])
    assert logs[0] == logs[1] == logs[2]

    of_root = [e for e in logs[0] if root_id in (e["data"].get("id"), e["data"].get("message_id"))]
    assert [e["kind"] for e in of_root] == [
        "message.created",
        "message.edited",
        "message.edited",
        "reaction.added",
        "reaction.added",
        "reaction.removed",
        "message.deleted",
    ]
    created, *changes, deleted = of_root
    deletion = {"deleted_at": deleted["data"]["deleted_at"], "deleted_by": channel.sender.id}
    assert deleted["data"] == {"id": root_id, **deletion}
    checked_tombstone(created["data"], channel.root, channel.sender)
    assert [e["data"] for e in changes] == [
        *[{"id": root_id, **deletion}] * 2,
        *[{"message_id": root_id, **deletion}] * 3,
    ]
    # The message keeps its seq, and its created event is what GET messages/{id} answers.
    assert created["seq"] == channel.root["seq"]
    shown = await answer(channel.newcomer, f"/api/v1/messages/{root_id}")
    assert without_thread_summary(created["data"]) == without_thread_summary(shown)


async def check_history_the_messages_their_threads_and_edits(channel: Channel) -> None:
    root, doomed, plain = channel.root, channel.doomed_reply, channel.plain
    for viewer in channel.viewers:
        history = await answer(viewer, messages_url(channel.cid))
        by_id = {m["id"]: m for m in history["messages"]}
        checked_tombstone(by_id[root["id"]], root, channel.sender)
        checked_tombstone(by_id[plain["id"]], plain, channel.member)
        # Replies show in their thread only (below).
        assert doomed["id"] not in by_id and channel.kept_reply["id"] not in by_id
        assert by_id[root["id"]]["reply_count"] == 1

        for message, by in ((root, channel.sender), (doomed, channel.admin)):
            one = await answer(viewer, f"/api/v1/messages/{message['id']}")
            checked_tombstone(one, message, by)
            assert await answer(viewer, f"/api/v1/messages/{message['id']}/edits") == {"edits": []}

        # A deleted root keeps its thread; a deleted reply stays in it as a tombstone.
        thread = await answer(viewer, f"/api/v1/messages/{root['id']}/thread")
        checked_tombstone(thread["root"], root, channel.sender)
        assert [m["id"] for m in thread["replies"]] == [channel.kept_reply["id"], doomed["id"]]
        assert thread["replies"][0]["body"] == KEPT
        checked_tombstone(thread["replies"][1], doomed, channel.admin)
        of_reply = await answer(viewer, f"/api/v1/messages/{doomed['id']}/thread")
        checked_tombstone(of_reply["root"], doomed, channel.admin)


async def check_search(channel: Channel) -> None:
    """SQLite's FTS index and PostgreSQL's tsvector alike."""
    for viewer in channel.viewers:
        for query in [*ERASED_WORDS, "zebra", f"the {THIRD} draft"]:
            for params in ({}, {"conversation_id": channel.cid}):
                found = await answer(viewer, "/api/v1/search", q=query, **params)
                assert found["results"] == [], query
        kept = await answer(viewer, "/api/v1/search", q="innocent")
        assert [r["message"]["id"] for r in kept["results"]] == [channel.kept_reply["id"]]


async def check_the_conversation_list(channel: Channel) -> None:
    """Its preview is the last message left."""
    for viewer in channel.viewers:
        listed = await answer(viewer, "/api/v1/conversations")
        (item,) = listed["conversations"]
        assert item["last_message"]["id"] == channel.kept_reply["id"]


async def check_the_file(channel: Channel) -> None:
    (file,) = channel.root["attachments"]
    error_of(await channel.member.client.get(file["url"]), 404, "not_found")


async def test_no_read_over_http_hands_out_any_of_it(channel: Channel) -> None:
    await check_the_event_log(channel)
    await check_history_the_messages_their_threads_and_edits(channel)
    await check_search(channel)
    await check_the_conversation_list(channel)
    await check_the_file(channel)


# --- the database --------------------------------------------------------------------------


async def test_no_row_holds_any_of_it_and_deleting_again_changes_nothing(
    channel: Channel, settings: Settings
) -> None:
    rows = await company_rows(settings.effective_migration_database_url, [channel.admin.company_id])
    assert rows["message_edits"] == [] and rows["reactions"] == []
    assert_erased(repr(rows))
    await delete(channel.sender, channel.root["id"])
    await delete(channel.admin, channel.root["id"])
    again = await company_rows(
        settings.effective_migration_database_url, [channel.admin.company_id]
    )
    assert again == rows
    # Every event of a message names it; the erasure found them by that column.
    db = Database(settings.effective_migration_database_url)
    try:
        async with db.read() as conn:
            found = await conn.execute(
                select(events.c.kind, events.c.message_id).where(
                    events.c.conversation_id == channel.cid
                )
            )
            kinds_without = {r.kind for r in found if r.message_id is None}
    finally:
        await db.dispose()
    assert kinds_without == {"member.added"}


# --- WebSocket replay from a real server ---------------------------------------------------


async def replayed_frames(server: ServerProcess, person: Person, cid: str) -> list[str]:
    """The event frames, as sent, of a subscribe from after_seq 0 up to the last seq."""
    ws = await authenticated_socket(server, person)
    try:
        subscribe = {"type": "subscribe", "conversation_id": cid, "after_seq": 0}
        await ws.send(orjson.dumps(subscribe).decode())
        frames, last_seq = [], None
        async with asyncio.timeout(15):
            while last_seq is None or not frames or json.loads(frames[-1])["seq"] < last_seq:
                text = str(await ws.recv())
                frame = json.loads(text)
                if frame["type"] == "subscribed":
                    last_seq = frame["last_seq"]
                elif frame["type"] == "event":
                    frames.append(text)
        return frames
    finally:
        await ws.close()


async def test_a_replay_from_zero_hands_out_tombstones_only(
    channel: Channel, server: ServerProcess
) -> None:
    logged = await answer(
        channel.member, f"/api/v1/conversations/{channel.cid}/events", after_seq=0
    )
    expected = [(e["seq"], e["kind"], e["data"]) for e in logged["events"]]
    for viewer in channel.viewers:
        frames = await replayed_frames(server, viewer, channel.cid)
        for frame in frames:
            assert_erased(frame)
        replayed = [json.loads(f) for f in frames]
        assert [(f["seq"], f["kind"], f["data"]) for f in replayed] == expected

    # hallway.client takes the tombstones like any other event.
    async with realtime(server, channel.newcomer) as client:
        await client.subscribe(channel.cid, after_seq=0)
        seen = [await client.next_event() for _ in expected]
    assert [(e["seq"], e["kind"], e["data"]) for e in seen] == expected


# --- who may ----------------------------------------------------------------------------


async def test_who_may_not_see_it_still_gets_404(channel: Channel, live: Directory) -> None:
    stranger = await live.company("Elsewhere")
    outsider = await live.colleague(channel.admin, "Oli")  # same company, never joined
    for person in (stranger, outsider):
        for message in (channel.root, channel.kept_reply):
            url = f"/api/v1/messages/{message['id']}"
            error_of(await person.delete(url), 404, "not_found")
            error_of(await person.get(url), 404, "not_found")
        events_url = f"/api/v1/conversations/{channel.cid}/events"
        error_of(await person.get(events_url), 404, "not_found")
    # And the message an outsider could not delete is still there.
    kept = await answer(channel.member, f"/api/v1/messages/{channel.kept_reply['id']}")
    assert kept["body"] == KEPT and kept["deleted_at"] is None


# --- racing a delete (PostgreSQL: SQLite runs one writer at a time) ----------------------


def actor_of(person: Person) -> Actor:
    return Actor(person.id, person.company_id, "admin" if person.role == "admin" else "member")


@on_postgresql
async def test_an_edit_that_read_the_message_before_its_delete_is_refused(
    app: FastAPI, directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin, bob, conversation = await directory.team()
    message = await send(bob, conversation["id"], f"a {FIRST} note")

    async def read_then_deleted(conn: Connection, actor: Actor, message_id: str) -> RowMapping:
        row = await message_for_member(conn, actor, message_id)
        await message_delete.delete_message(app.state.ctx, actor_of(admin), message_id)
        return row

    monkeypatch.setattr(message_edit, "message_for_member", read_then_deleted)
    r = await bob.patch(f"/api/v1/messages/{message['id']}", json={"body": f"a {SECOND} note"})
    error_of(r, 409, "message_deleted")
    assert_erased(
        repr(
            await company_rows(
                app.state.ctx.settings.effective_migration_database_url, [admin.company_id]
            )
        )
    )


@on_postgresql
async def test_a_reaction_under_way_when_its_message_is_deleted_is_erased_too(
    app: FastAPI, directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin, bob, conversation = await directory.team()
    message = await send(bob, conversation["id"], "soon gone")
    deleting: list[asyncio.Task[None]] = []

    async def read_while_deleting(
        conn: Connection, actor: Actor, message_id: str, *, lock: bool = False
    ) -> RowMapping:
        row = await message_for_member(conn, actor, message_id, lock=lock)
        delete = message_delete.delete_message(app.state.ctx, actor_of(admin), message_id)
        deleting.append(asyncio.create_task(delete))
        await asyncio.sleep(0.2)  # the delete reaches the message's row meanwhile
        return row

    monkeypatch.setattr(reactions, "message_for_member", read_while_deleting)
    r = await bob.put(f"/api/v1/messages/{message['id']}/reactions/{ERASED_EMOJI[0]}")
    assert r.status_code == 204, r.text
    await deleting[0]
    rows = await company_rows(
        app.state.ctx.settings.effective_migration_database_url, [admin.company_id]
    )
    assert rows["reactions"] == []
    assert_erased(repr(rows))
