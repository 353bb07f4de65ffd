"""Mentions: resolved against the members when a message is sent or edited, stored with it,
counted in the conversation list, listed by GET /mentions, and delivered live with the
message; nobody outside the conversation is ever mentioned."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from hallway.config import Settings
from hallway.domain.mentions import resolve
from hallway.store.acting import Acting, acting, as_system
from hallway.store.database import Database
from hallway.store.tables import mentions
from tests.support import (
    Directory,
    Person,
    ServerProcess,
    error_of,
    on_postgresql,
    realtime,
    send,
)

pytestmark = pytest.mark.anyio

BOB, BOB_SMITH, CAROL, ME = "u-bob", "u-bob-smith", "u-carol", "u-me"
MEMBERS = [(BOB, "Bob"), (BOB_SMITH, "Bob Smith"), (CAROL, "carol"), (ME, "Me Myself")]


@pytest.mark.parametrize(
    ("body", "user_ids", "kind"),
    [
        ("hi @Bob", [BOB], None),
        ("@bob smith, look", [BOB_SMITH], None),
        ("@Bob Smithers is not a member", [BOB], None),
        ("@CAROL and @bob", [BOB, CAROL], None),
        ("mail bob@example.com", [], None),
        ("@Bobby", [], None),
        ("@Me Myself again", [], None),
        ("@Dave is no member", [], None),
        ("@here quick one", [], "here"),
        ("@channel and @here, @carol", [CAROL], "channel"),
        ("@channels is no broadcast", [], None),
        ("(@Bob)", [BOB], None),
        ("no at sign", [], None),
    ],
)
async def test_the_longest_member_name_after_an_at_sign_is_mentioned(
    body: str, user_ids: list[str], kind: str | None
) -> None:
    resolved = resolve(body, MEMBERS, ME)
    assert (resolved.user_ids, resolved.kind) == (sorted(user_ids), kind)


async def test_the_senders_own_longer_name_does_not_mention_a_shorter_one() -> None:
    members = [(BOB, "Bob"), (BOB_SMITH, "Bob Smith")]
    assert resolve("@Bob Smith here", members, BOB_SMITH).user_ids == []
    assert resolve("@Bob Smith here", members, BOB).user_ids == [BOB_SMITH]


async def _group(directory: Directory) -> tuple[Person, Person, Person, str]:
    """Admin and Bob in a group; Carol of the same company but not in it."""
    admin = await directory.company("Mentions")
    bob = await directory.colleague(admin, "Bob Jones")
    carol = await directory.colleague(admin, "Carol")
    group = await directory.conversation(admin, "group", [bob], title="pair")
    return admin, bob, carol, group["id"]


async def _listed(person: Person, cid: str) -> dict[str, Any]:
    r = await person.get("/api/v1/conversations")
    assert r.status_code == 200, r.text
    [item] = [c for c in r.json()["conversations"] if c["id"] == cid]
    return dict(item)


async def _my_mentions(person: Person, **params: Any) -> dict[str, Any]:
    r = await person.get("/api/v1/mentions", params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def _stored(app: FastAPI, message_id: str) -> list[tuple[str | None, str]]:
    with as_system():
        async with app.state.ctx.db.read() as conn:
            rows = await conn.execute(
                select(mentions.c.user_id, mentions.c.kind).where(
                    mentions.c.message_id == message_id
                )
            )
            return sorted((r.user_id, r.kind) for r in rows)


async def test_a_mention_is_stored_shown_counted_and_listed(
    directory: Directory, app: FastAPI
) -> None:
    admin, bob, _, cid = await _group(directory)
    await send(admin, cid, "plain first")
    message = await send(admin, cid, "@bob jones can you look?")
    assert message["mentions"] == [bob.id]
    assert message["mention_kind"] is None
    assert await _stored(app, message["id"]) == [(bob.id, "person")]
    r = await bob.get(f"/api/v1/conversations/{cid}/messages")
    history = r.json()["messages"]
    assert history[-1] == message
    assert history[0]["mentions"] == [] and history[0]["mention_kind"] is None

    item = await _listed(bob, cid)
    assert (item["unread_count"], item["mention_count"]) == (2, 1)
    assert (item["notify_level"], item["muted"]) == (None, False)
    assert (await _listed(admin, cid))["mention_count"] == 0

    listed = await _my_mentions(bob)
    assert listed["mentions"] == [{"conversation_id": cid, "message": message}]
    assert listed["has_more"] is False and listed["next_cursor"] is None
    assert (await _my_mentions(admin))["mentions"] == []

    r = await bob.post(f"/api/v1/conversations/{cid}/read", json={"seq": message["seq"]})
    assert r.status_code == 200, r.text
    assert (await _listed(bob, cid))["mention_count"] == 0
    # Read or not, it stays in the list of mentions.
    assert len((await _my_mentions(bob))["mentions"]) == 1


async def test_someone_outside_the_conversation_is_mentioned_nowhere(
    directory: Directory, app: FastAPI
) -> None:
    admin, bob, carol, cid = await _group(directory)
    message = await send(admin, cid, "@Carol would know, and @Mentions Admin is me")
    assert message["mentions"] == []
    assert await _stored(app, message["id"]) == []
    assert (await _my_mentions(carol))["mentions"] == []
    assert (await _listed(bob, cid))["mention_count"] == 0


async def test_an_edit_resolves_the_mentions_again(directory: Directory, app: FastAPI) -> None:
    admin, bob, carol, cid = await _group(directory)
    r = await admin.post(f"/api/v1/conversations/{cid}/members", json={"user_ids": [carol.id]})
    assert r.status_code == 200, r.text
    message = await send(admin, cid, "@Bob Jones first")
    r = await admin.patch(f"/api/v1/messages/{message['id']}", json={"body": "@carol instead"})
    assert r.status_code == 200, r.text
    assert r.json()["mentions"] == [carol.id]
    assert await _stored(app, message["id"]) == [(carol.id, "person")]
    assert (await _listed(bob, cid))["mention_count"] == 0
    assert (await _listed(carol, cid))["mention_count"] == 1
    r = await admin.get(f"/api/v1/conversations/{cid}/events?after_seq=0")
    assert r.status_code == 200, r.text
    [edited] = [e for e in r.json()["events"] if e["kind"] == "message.edited"]
    assert edited["data"]["mentions"] == [carol.id]
    assert edited["data"]["mention_kind"] is None


async def test_channel_counts_for_everyone_and_here_only_live(directory: Directory) -> None:
    admin, bob, _, cid = await _group(directory)
    here = await send(admin, cid, "@here stand-up")
    assert (here["mentions"], here["mention_kind"]) == ([], "here")
    assert (await _listed(bob, cid))["mention_count"] == 0
    everyone = await send(admin, cid, "@Channel release is out")
    assert (everyone["mentions"], everyone["mention_kind"]) == ([], "channel")
    assert (await _listed(bob, cid))["mention_count"] == 1
    assert (await _listed(admin, cid))["mention_count"] == 0  # one's own message
    assert [m["message"]["id"] for m in (await _my_mentions(bob))["mentions"]] == [everyone["id"]]


async def test_a_deleted_message_mentions_nobody_any_more(
    directory: Directory, app: FastAPI
) -> None:
    admin, bob, _, cid = await _group(directory)
    message = await send(admin, cid, "@Bob Jones secret")
    assert (await _listed(bob, cid))["mention_count"] == 1
    r = await admin.delete(f"/api/v1/messages/{message['id']}")
    assert r.status_code in (200, 204), r.text
    assert (await _listed(bob, cid))["mention_count"] == 0
    assert (await _my_mentions(bob))["mentions"] == []
    assert await _stored(app, message["id"]) == []


async def test_a_removed_member_no_longer_sees_their_mentions(directory: Directory) -> None:
    admin, bob, _, cid = await _group(directory)
    await send(admin, cid, "@Bob Jones before you go")
    assert len((await _my_mentions(bob))["mentions"]) == 1
    r = await admin.delete(f"/api/v1/conversations/{cid}/members/{bob.id}")
    assert r.status_code == 204, r.text
    assert (await _my_mentions(bob))["mentions"] == []
    after = await send(admin, cid, "@Bob Jones are you there?")
    assert after["mentions"] == []


@on_postgresql
async def test_row_security_shows_mention_rows_to_members_only(
    directory: Directory, settings: Settings
) -> None:
    admin, bob, carol, cid = await _group(directory)
    message = await send(admin, cid, "@Bob Jones @channel")
    db = Database(settings.effective_database_url)
    try:
        assert await db.detect_row_security()
        seen = {}
        for person in (bob, carol):
            with acting(Acting(person.id, person.company_id)):
                async with db.read() as conn:
                    rows = await conn.execute(
                        select(mentions.c.kind).where(mentions.c.message_id == message["id"])
                    )
                    seen[person.id] = sorted(r.kind for r in rows)
    finally:
        await db.dispose()
    assert seen == {bob.id: ["channel", "person"], carol.id: []}


async def test_mentions_are_paged_newest_first(directory: Directory) -> None:
    admin, bob, _, cid = await _group(directory)
    sent = [await send(admin, cid, f"@bob jones number {i}") for i in range(3)]
    first = await _my_mentions(bob, limit=2)
    assert [m["message"]["id"] for m in first["mentions"]] == [sent[2]["id"], sent[1]["id"]]
    assert first["has_more"] is True
    rest = await _my_mentions(bob, limit=2, before=first["next_cursor"])
    assert [m["message"]["id"] for m in rest["mentions"]] == [sent[0]["id"]]
    assert rest["has_more"] is False
    r = await bob.get("/api/v1/mentions", params={"before": "bm90LWEtY3Vyc29y"})
    error_of(r, 422, "invalid_cursor")
    r = await bob.get("/api/v1/mentions", params={"limit": 0})
    error_of(r, 422)


async def test_a_mention_arrives_live_and_a_removed_member_gets_nothing(
    live: Directory, server: ServerProcess
) -> None:
    admin = await live.company("Live")
    bob = await live.colleague(admin, "Bob")
    carol = await live.colleague(admin, "Carol")
    cid = (await live.conversation(admin, "group", [bob, carol], title="live"))["id"]
    fence = (await live.conversation(admin, "direct", [carol]))["id"]
    async with realtime(server, bob) as bob_rt, realtime(server, carol) as carol_rt:
        await bob_rt.subscribe(cid)
        await carol_rt.subscribe(cid)
        await carol_rt.subscribe(fence)
        mention = await send(admin, cid, "@Bob look")
        event = await _event(bob_rt, "message.created")
        assert event["data"]["mentions"] == [bob.id]
        assert event["data"] == mention

        r = await admin.delete(f"/api/v1/conversations/{cid}/members/{carol.id}")
        assert r.status_code == 204, r.text
        await send(admin, cid, "@Carol you are gone")
        gone = await _event(bob_rt, "message.created")
        assert gone["data"]["mentions"] == []
        # Carol is still subscribed to the direct conversation: everything she gets up to
        # its next message holds nothing of the group's after her removal.
        await send(admin, fence, "fence")
        seen: list[dict[str, Any]] = []
        async with asyncio.timeout(15):
            while True:
                frame = await carol_rt.next_frame()
                seen.append(frame)
                if frame.get("conversation_id") == fence and frame.get("type") == "event":
                    break
        assert not [f for f in seen if "gone" in str(f.get("data", {}).get("body", ""))]


async def test_the_inbox_tells_a_member_not_following_that_they_are_mentioned(
    live: Directory, server: ServerProcess
) -> None:
    admin = await live.company("Inbox")
    bob = await live.colleague(admin, "Bob")
    cid = (await live.conversation(admin, "group", [bob], title="inbox"))["id"]
    async with realtime(server, bob) as bob_rt:
        plain = await send(admin, cid, "plain")
        mention = await send(admin, cid, "@bob and @here")
        found: list[dict[str, Any]] = []
        async with asyncio.timeout(15):
            while len(found) < 2:
                frame = await bob_rt.next_frame()
                if frame["type"] == "inbox" and frame.get("event") == "message.created":
                    found.append(frame)
    assert found[0]["message_id"] == plain["id"]
    assert "mentions" not in found[0] and "mention_kind" not in found[0]
    assert found[1]["message_id"] == mention["id"]
    assert (found[1]["mentions"], found[1]["mention_kind"]) == ([bob.id], "here")


async def _event(client: Any, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(15):
        while True:
            event: dict[str, Any] = await client.next_event()
            if event["kind"] == kind:
                return event
