"""Every message the API and the realtime events give carries `body_html`, the body rendered
by the server (hallway/domain/message_format.py): sent over HTTP or the socket, one by one
or together, edited, deleted, and stored before the column existed. On each stack, over a
real server and WebSockets."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import update

from hallway.config import Settings
from hallway.domain.message_format import render_body
from hallway.store.database import Database
from hallway.store.tables import messages
from tests.support import Directory, Person, ServerProcess, realtime

pytestmark = pytest.mark.anyio

FORMATTED = "**bold** and https://example.com"
FORMATTED_HTML = (
    '<p><strong>bold</strong> and <a href="https://example.com" target="_blank"'
    ' rel="noopener noreferrer">https://example.com</a></p>\n'
)


def messages_url(cid: str) -> str:
    return f"/api/v1/conversations/{cid}/messages"


async def history(person: Person, cid: str) -> dict[str, dict[str, Any]]:
    r = await person.get(f"{messages_url(cid)}?limit=100")
    assert r.status_code == 200
    return {m["id"]: m for m in r.json()["messages"]}


async def logged(person: Person, cid: str) -> list[dict[str, Any]]:
    r = await person.get(f"/api/v1/conversations/{cid}/events")
    assert r.status_code == 200
    events: list[dict[str, Any]] = r.json()["events"]
    return events


async def test_sends_edits_and_deletes_carry_the_html(
    live: Directory, server: ServerProcess
) -> None:
    admin, bob, conversation = await live.team()
    cid = conversation["id"]
    async with realtime(server, bob) as listener, realtime(server, admin) as sender:
        await listener.subscribe(cid)
        r = await admin.post(messages_url(cid), json={"body": FORMATTED})
        assert r.status_code == 201, r.text
        sent = r.json()
        created = await listener.next_event()
        answer = await sender.send_message(cid, "<script>window.pwned = 1</script> `x`")
        created_on_socket = await listener.next_event()
        r = await admin.patch(f"/api/v1/messages/{sent['id']}", json={"body": "~~was~~ _is_"})
        assert r.status_code == 200, r.text
        edited = r.json()
        edited_event = await listener.next_event()
        assert (await admin.delete(f"/api/v1/messages/{sent['id']}")).status_code == 204
        deleted_event = await listener.next_event()

    assert sent["body_html"] == FORMATTED_HTML
    assert (created["kind"], created["data"]) == ("message.created", sent)

    on_socket = answer["message"]
    assert on_socket["body_html"] == (
        "<p>&lt;script&gt;window.pwned = 1&lt;/script&gt; <code>x</code></p>\n"
    )
    assert created_on_socket["data"] == on_socket

    assert edited["body_html"] == "<p><s>was</s> <em>is</em></p>\n"
    assert edited_event["kind"] == "message.edited"
    assert edited_event["data"]["body_html"] == edited["body_html"]
    assert edited_event["data"]["body"] == "~~was~~ _is_"

    assert deleted_event["kind"] == "message.deleted"
    stored = await history(bob, cid)
    assert (stored[sent["id"]]["body"], stored[sent["id"]]["body_html"]) == ("", "")
    assert stored[on_socket["id"]] == on_socket
    # The log keeps no rendering of the deleted text either: its earlier events are
    # tombstones, the message.created one with an empty body_html.
    log = await logged(bob, cid)
    [tombstone] = [e for e in log if e["kind"] == "message.created" and e["seq"] == sent["seq"]]
    assert (tombstone["data"]["body"], tombstone["data"]["body_html"]) == ("", "")
    assert "bold" not in repr(log)


async def test_sends_that_go_together_each_keep_their_html(live: Directory) -> None:
    """Concurrent sends to one conversation (on PostgreSQL, stored by one statement)."""
    admin, bob, conversation = await live.team()
    cid = conversation["id"]
    bodies = [f"**{n}** see www.example.com/{n}" for n in range(12)]
    answers = await asyncio.gather(
        *(
            (admin if n % 2 else bob).post(messages_url(cid), json={"body": body})
            for n, body in enumerate(bodies)
        )
    )
    assert all(r.status_code == 201 for r in answers)
    stored = await history(admin, cid)
    for body, r in zip(bodies, answers, strict=True):
        message = r.json()
        assert message["body_html"] == render_body(body)
        assert "<strong>" in message["body_html"]
        assert stored[message["id"]] == message
    log = await logged(admin, cid)
    created = {e["data"]["id"]: e["data"] for e in log if e["kind"] == "message.created"}
    for r in answers:
        assert created[r.json()["id"]]["body_html"] == r.json()["body_html"]


async def test_a_message_stored_before_the_column_is_rendered_as_read(
    live: Directory, settings: Settings
) -> None:
    admin, bob, conversation = await live.team()
    cid = conversation["id"]
    r = await admin.post(messages_url(cid), json={"body": "> quoted *text*"})
    assert r.status_code == 201
    message = r.json()
    db = Database(settings.effective_migration_database_url)
    try:
        async with db.write() as conn:
            await conn.execute(
                update(messages).where(messages.c.id == message["id"]).values(body_html=None)
            )
    finally:
        await db.dispose()
    stored = (await history(bob, cid))[message["id"]]
    assert stored["body_html"] == "<blockquote>\n<p>quoted <em>text</em></p>\n</blockquote>\n"
    listed = await bob.get("/api/v1/conversations")
    [item] = [c for c in listed.json()["conversations"] if c["id"] == cid]
    assert item["last_message"]["body_html"] == stored["body_html"]


async def test_a_long_body_is_rendered_when_sent_and_edited(live: Directory) -> None:
    """Bodies long enough to be rendered on a worker thread (message_format.OFF_LOOP_CHARS)."""
    admin, bob, conversation = await live.team()
    cid = conversation["id"]
    long_body = ("**point** see https://example.com/x\n" * 300)[:10_000]
    r = await admin.post(messages_url(cid), json={"body": long_body})
    assert r.status_code == 201, r.text
    sent = r.json()
    assert sent["body_html"] == render_body(long_body)
    assert sent["body_html"].count("<strong>") >= 250
    hostile = "[" * 9_000 + "<script>x</script>"
    r = await admin.patch(f"/api/v1/messages/{sent['id']}", json={"body": hostile})
    assert r.status_code == 200, r.text
    assert r.json()["body_html"] == render_body(hostile)
    assert "<script" not in r.json()["body_html"]
    r = await admin.patch(f"/api/v1/messages/{sent['id']}", json={"body": "x" * 10_001})
    assert r.status_code == 422 and r.json()["error"]["code"] == "body_too_long"
    assert (await history(bob, cid))[sent["id"]]["body"] == hostile
