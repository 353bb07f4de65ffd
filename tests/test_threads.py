"""Threads: a root's reply count, last reply and repliers, kept true by replies, deletes and
erasures and sent live as `thread.updated`; a thread's history in windows; following
threads with their unread replies; replies shown in their thread, not in the history."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from hallway.client import RealtimeClient
from hallway.store import tables as t
from hallway.store.database import Database
from hallway.store.types import utcnow
from tests.support import (
    Directory,
    Person,
    ServerProcess,
    error_of,
    insert_channel,
    realtime,
    send,
)
from tests.test_migrations import db, migrate

__all__ = ["db"]  # the fixture: an empty database of this test's own

pytestmark = pytest.mark.anyio


async def answer(person: Person, url: str, **params: Any) -> Any:
    r = await person.get(url, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def thread_url(cid: str, root_id: str) -> str:
    return f"/api/v1/conversations/{cid}/threads/{root_id}/messages"


async def reply(person: Person, cid: str, root: dict[str, Any], body: str) -> dict[str, Any]:
    return await send(person, cid, body, thread_root_id=root["id"])


async def message(person: Person, message_id: str) -> dict[str, Any]:
    found: dict[str, Any] = await answer(person, f"/api/v1/messages/{message_id}")
    return found


async def trio(directory: Directory) -> tuple[Person, Person, Person, str]:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    cleo = await directory.colleague(admin, "Cleo")
    conversation = await directory.conversation(admin, "group", [bob, cleo], title="t")
    return admin, bob, cleo, conversation["id"]


async def test_replies_count_on_their_root_with_the_newest_repliers_first(
    directory: Directory,
) -> None:
    admin, bob, cleo, cid = await trio(directory)
    root = await send(admin, cid, "the root")
    assert (root["reply_count"], root["last_reply_at"], root["reply_user_ids"]) == (0, None, [])
    first = await reply(bob, cid, root, "one")
    await reply(cleo, cid, root, "two")
    # Replying to a reply joins the root's thread.
    last = await send(bob, cid, "three", thread_root_id=first["id"])
    assert last["thread_root_id"] == root["id"]
    assert (last["reply_count"], last["reply_user_ids"]) == (0, [])

    seen = await message(cleo, root["id"])
    assert seen["reply_count"] == 3
    assert seen["last_reply_at"] == last["created_at"]
    assert seen["reply_user_ids"] == [bob.id, cleo.id]

    # Deleting a reply counts it no more; the repliers are those of the replies left.
    for gone in (last, first):
        r = await bob.delete(f"/api/v1/messages/{gone['id']}")
        assert r.status_code == 204, r.text
    seen = await message(admin, root["id"])
    assert (seen["reply_count"], seen["reply_user_ids"]) == (1, [cleo.id])
    assert seen["last_reply_at"] is not None and seen["last_reply_at"] < last["created_at"]


async def test_at_most_five_repliers(directory: Directory) -> None:
    admin = await directory.company()
    people = [await directory.colleague(admin, f"P{i}") for i in range(6)]
    conversation = await directory.conversation(admin, "channel", people, title="many")
    cid = conversation["id"]
    root = await send(admin, cid, "root")
    for person in people:
        await reply(person, cid, root, "me too")
    await reply(people[0], cid, root, "again")
    seen = await message(admin, root["id"])
    assert seen["reply_count"] == 7
    assert seen["reply_user_ids"] == [people[0].id, *(p.id for p in people[5:1:-1])]


async def test_the_history_shows_roots_and_the_thread_shows_its_replies_in_windows(
    directory: Directory,
) -> None:
    admin, bob, _, cid = await trio(directory)
    root = await send(admin, cid, "root")
    replies = [await reply(bob, cid, root, f"r{i}") for i in range(5)]
    after = await send(admin, cid, "after")

    history = await answer(admin, f"/api/v1/conversations/{cid}/messages")
    assert [m["id"] for m in history["messages"]][-2:] == [root["id"], after["id"]]
    assert history["messages"][-2]["reply_count"] == 5

    page = await answer(admin, thread_url(cid, root["id"]), limit=2)
    assert page["root"]["id"] == root["id"]
    assert [m["body"] for m in page["messages"]] == ["r3", "r4"]
    assert page["has_more"] and page["last_seq"] >= after["seq"]
    older = await answer(admin, thread_url(cid, root["id"]), limit=2, before=page["next_cursor"])
    assert [m["body"] for m in older["messages"]] == ["r1", "r2"]
    oldest = await answer(admin, thread_url(cid, root["id"]), limit=2, before=older["next_cursor"])
    assert [m["id"] for m in oldest["messages"]] == [replies[0]["id"]]
    assert not oldest["has_more"] and oldest["next_cursor"] is None

    # A reply is no thread; nor is a message of another conversation.
    error_of(await admin.get(thread_url(cid, replies[0]["id"])), 404)
    error_of(await admin.get(thread_url(cid, "not-an-id")), 404)
    other = await directory.conversation(admin, "group", [bob], title="other")
    error_of(await admin.get(thread_url(other["id"], root["id"])), 404)
    error_of(await admin.get(thread_url(cid, root["id"]), params={"limit": 0}), 422)
    error_of(await admin.get(thread_url(cid, root["id"]), params={"before": "nope!"}), 422)

    # Replies are not unread in the conversation: their thread counts them.
    listed = await answer(bob, "/api/v1/conversations")
    (item,) = [c for c in listed["conversations"] if c["id"] == cid]
    assert item["unread_count"] == 2  # the root and "after"


async def test_outsiders_get_404_for_every_thread_route(directory: Directory) -> None:
    admin, bob, _, cid = await trio(directory)
    root = await send(admin, cid, "root")
    await reply(bob, cid, root, "a reply")
    stranger_admin = await directory.company("Other")
    colleague_outside = await directory.colleague(admin, "Outsider")
    for outsider in (stranger_admin, colleague_outside):
        error_of(await outsider.get(thread_url(cid, root["id"])), 404)
        error_of(await outsider.post(f"/api/v1/threads/{root['id']}/read"), 404)
        error_of(await outsider.put(f"/api/v1/threads/{root['id']}/follow"), 404)
        error_of(await outsider.delete(f"/api/v1/threads/{root['id']}/follow"), 404)
        r = await outsider.post(
            f"/api/v1/conversations/{cid}/messages",
            json={"body": "x", "thread_root_id": root["id"]},
        )
        error_of(r, 404)
        assert (await answer(outsider, "/api/v1/threads"))["threads"] == []
    error_of(await admin.get("/api/v1/threads", params={"limit": 0}), 422)
    error_of(await admin.get("/api/v1/threads", params={"cursor": "bad!"}), 422)
    assert (await message(admin, root["id"]))["reply_count"] == 1


async def test_followed_threads_with_unread_replies(directory: Directory) -> None:
    admin, bob, cleo, cid = await trio(directory)
    quiet = await send(admin, cid, "no replies yet")
    root = await send(admin, cid, "root")
    # The author follows only once there is a reply.
    assert (await answer(admin, "/api/v1/threads"))["threads"] == []

    await reply(bob, cid, root, "one")
    await reply(cleo, cid, root, "two")
    mine = await answer(admin, "/api/v1/threads")
    (thread,) = mine["threads"]
    assert thread["root"]["id"] == root["id"] and thread["unread_reply_count"] == 2
    (bobs,) = (await answer(bob, "/api/v1/threads"))["threads"]
    assert bobs["unread_reply_count"] == 1  # cleo's; his own is not unread

    read = await admin.post(f"/api/v1/threads/{root['id']}/read")
    assert read.status_code == 200, read.text
    assert read.json()["following"] is True
    (thread,) = (await answer(admin, "/api/v1/threads"))["threads"]
    assert thread["unread_reply_count"] == 0

    # Following explicitly; the newest activity comes first, paged with a cursor.
    followed = await cleo.put(f"/api/v1/threads/{quiet['id']}/follow")
    assert followed.json() == {"root_id": quiet["id"], "following": True}
    await reply(bob, cid, quiet, "late")
    first = await answer(cleo, "/api/v1/threads", limit=1)
    assert [t["root"]["id"] for t in first["threads"]] == [quiet["id"]]
    assert first["threads"][0]["unread_reply_count"] == 1
    rest = await answer(cleo, "/api/v1/threads", limit=1, cursor=first["next_cursor"])
    assert [t["root"]["id"] for t in rest["threads"]] == [root["id"]]
    assert not rest["has_more"]

    # Unfollowed, a thread stays away when others reply, and comes back on one's own reply.
    r = await admin.delete(f"/api/v1/threads/{root['id']}/follow")
    assert r.json() == {"root_id": root["id"], "following": False}
    await reply(bob, cid, root, "three")
    # (The author of `quiet` follows it since Bob's reply there.)
    listed = (await answer(admin, "/api/v1/threads"))["threads"]
    assert [t["root"]["id"] for t in listed] == [quiet["id"]]
    await reply(admin, cid, root, "me again")
    back, _ = (await answer(admin, "/api/v1/threads"))["threads"]
    assert back["root"]["id"] == root["id"] and back["unread_reply_count"] == 0

    # Leaving the conversation takes its threads off one's list.
    r = await cleo.delete(f"/api/v1/conversations/{cid}/members/{cleo.id}")
    assert r.status_code in (200, 204), r.text
    assert (await answer(cleo, "/api/v1/threads"))["threads"] == []


async def next_event_of(client: RealtimeClient, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            event: dict[str, Any] = await client.next_event(10)
            if event["kind"] == kind:
                return event


async def test_thread_updated_goes_live_to_members_and_replays(
    live: Directory, server: ServerProcess
) -> None:
    admin, bob, conversation = await live.team()
    cid = conversation["id"]
    root = await send(admin, cid, "root")
    async with realtime(server, admin) as client:
        await client.subscribe(cid, after_seq=root["seq"])
        sent = await reply(bob, cid, root, "live reply")
        created = await next_event_of(client, "message.created")
        assert created["data"]["id"] == sent["id"]
        updated = await next_event_of(client, "thread.updated")
        assert updated["seq"] == sent["seq"] + 1
        assert updated["data"] == {
            "root_id": root["id"],
            "reply_count": 1,
            "last_reply_at": sent["created_at"],
            "reply_user_ids": [bob.id],
        }
        r = await bob.delete(f"/api/v1/messages/{sent['id']}")
        assert r.status_code == 204
        gone = await next_event_of(client, "thread.updated")
        assert gone["data"] == {
            "root_id": root["id"],
            "reply_count": 0,
            "last_reply_at": None,
            "reply_user_ids": [],
        }
    # Logged: a client resuming from before reads it in the catch-up feed.
    feed = await answer(admin, f"/api/v1/conversations/{cid}/events", after_seq=root["seq"])
    kinds = [e["kind"] for e in feed["events"]]
    assert kinds.count("thread.updated") == 2


async def test_the_migration_counts_existing_threads_and_their_followers(db: Database) -> None:
    await migrate(db, "upgrade", "0015")
    cid = await insert_channel(db, utcnow())
    async with db.write() as conn:
        company_id = (
            await conn.execute(
                select(t.conversations.c.company_id).where(t.conversations.c.id == cid)
            )
        ).scalar_one()
        people = [str(uuid.uuid4()) for _ in range(3)]
        for n, person in enumerate(people):
            await conn.execute(
                t.users.insert().values(
                    id=person,
                    company_id=company_id,
                    email=f"{person}@example.test",
                    display_name=f"P{n}",
                    role="member",
                    created_at=utcnow(),
                )
            )
        root, quiet = str(uuid.uuid4()), str(uuid.uuid4())
        rows = [
            (root, None, people[0], None),
            (quiet, None, people[0], None),
            (str(uuid.uuid4()), root, people[1], None),
            (str(uuid.uuid4()), root, people[2], None),
            (str(uuid.uuid4()), root, people[1], None),
            (str(uuid.uuid4()), root, people[2], utcnow()),  # deleted: not counted
        ]
        for seq, (message_id, thread_root_id, sender, deleted_at) in enumerate(rows, 1):
            await conn.execute(
                t.messages.insert().values(
                    id=message_id,
                    conversation_id=cid,
                    seq=seq,
                    sender_id=sender,
                    body="",
                    thread_root_id=thread_root_id,
                    created_at=utcnow(),
                    deleted_at=deleted_at,
                )
            )
    await migrate(db, "upgrade", "head")
    async with db.read() as conn:
        found = {
            r.id: (r.reply_count, r.reply_user_ids)
            for r in await conn.execute(
                select(t.messages.c.id, t.messages.c.reply_count, t.messages.c.reply_user_ids)
            )
        }
        followers = {
            (r.user_id, int(r.last_read_seq))
            for r in await conn.execute(
                select(t.thread_followers).where(t.thread_followers.c.root_id == root)
            )
        }
    assert found[root] == (3, f"{people[1]} {people[2]}")
    assert found[quiet] == (0, "")
    assert followers == {(people[0], 6), (people[1], 6), (people[2], 6)}
    await migrate(db, "downgrade", "0015")
