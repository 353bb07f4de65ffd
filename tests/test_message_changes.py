"""Edits, deletes and reactions: each changes the message and appends one event."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import Directory, Person

pytestmark = pytest.mark.anyio


async def _setup(directory: Directory) -> tuple[Person, Person, dict[str, Any], dict[str, Any]]:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    conversation = await directory.conversation(admin, "group", [bob], title="team")
    sent = await bob.post(
        f"/api/v1/conversations/{conversation['id']}/messages", json={"body": "first"}
    )
    assert sent.status_code == 201
    return admin, bob, conversation, sent.json()


async def _events(person: Person, conversation_id: str, after: int) -> list[dict[str, Any]]:
    r = await person.get(f"/api/v1/conversations/{conversation_id}/events?after_seq={after}")
    assert r.status_code == 200
    events: list[dict[str, Any]] = r.json()["events"]
    return events


async def test_edit_keeps_history_and_logs_event(directory: Directory) -> None:
    admin, bob, conversation, message = await _setup(directory)
    r = await bob.patch(f"/api/v1/messages/{message['id']}", json={"body": "second"})
    assert r.status_code == 200
    assert r.json()["body"] == "second" and r.json()["edited_at"] is not None
    edits = await admin.get(f"/api/v1/messages/{message['id']}/edits")
    assert [e["old_body"] for e in edits.json()["edits"]] == ["first"]
    events = await _events(admin, conversation["id"], message["seq"])
    assert [(e["kind"], e["data"]["body"]) for e in events] == [("message.edited", "second")]


async def test_only_sender_edits_and_bad_body_changes_nothing(directory: Directory) -> None:
    admin, bob, conversation, message = await _setup(directory)
    r = await admin.patch(f"/api/v1/messages/{message['id']}", json={"body": "hijack"})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "not_sender"
    r = await bob.patch(f"/api/v1/messages/{message['id']}", json={"body": "   "})
    assert r.status_code == 422
    assert await _events(admin, conversation["id"], message["seq"]) == []


async def test_delete_blanks_message_and_is_idempotent(directory: Directory) -> None:
    admin, bob, conversation, message = await _setup(directory)
    assert (await admin.put(f"/api/v1/messages/{message['id']}/reactions/👍")).status_code == 204
    assert (await bob.delete(f"/api/v1/messages/{message['id']}")).status_code == 204
    assert (await bob.delete(f"/api/v1/messages/{message['id']}")).status_code == 204
    page = await admin.get(f"/api/v1/conversations/{conversation['id']}/messages")
    (gone,) = page.json()["messages"]
    assert gone["body"] == "" and gone["deleted_at"] is not None and gone["reactions"] == []
    kinds = [e["kind"] for e in await _events(admin, conversation["id"], message["seq"])]
    assert kinds == ["reaction.added", "message.deleted"]
    r = await bob.patch(f"/api/v1/messages/{message['id']}", json={"body": "back"})
    assert r.status_code == 409


async def test_member_cannot_delete_others_but_owner_can(directory: Directory) -> None:
    admin, bob, _conversation, _message = await _setup(directory)
    mine = await admin.post(
        f"/api/v1/conversations/{_conversation['id']}/messages", json={"body": "owner's"}
    )
    assert (await bob.delete(f"/api/v1/messages/{mine.json()['id']}")).status_code == 403
    assert (await admin.delete(f"/api/v1/messages/{_message['id']}")).status_code == 204


async def test_reactions_count_per_emoji_and_me(directory: Directory) -> None:
    admin, bob, conversation, message = await _setup(directory)
    for person in (admin, bob, admin):
        r = await person.put(f"/api/v1/messages/{message['id']}/reactions/🎉")
        assert r.status_code == 204
    await bob.put(f"/api/v1/messages/{message['id']}/reactions/:tada:")
    page = await admin.get(f"/api/v1/conversations/{conversation['id']}/messages")
    assert page.json()["messages"][0]["reactions"] == [
        {"emoji": "🎉", "count": 2, "me": True},
        {"emoji": ":tada:", "count": 1, "me": False},
    ]
    assert (await admin.delete(f"/api/v1/messages/{message['id']}/reactions/🎉")).status_code == 204
    kinds = [e["kind"] for e in await _events(admin, conversation["id"], message["seq"])]
    assert kinds == ["reaction.added", "reaction.added", "reaction.added", "reaction.removed"]


async def test_bad_emoji_refused(directory: Directory) -> None:
    admin, _bob, _conversation, message = await _setup(directory)
    r = await admin.put(f"/api/v1/messages/{message['id']}/reactions/{'x' * 40}")
    assert r.status_code == 422
    assert r.json()["error"]["details"]["field"] == "emoji"


async def test_outsider_gets_404_on_message_routes(directory: Directory) -> None:
    _admin, _bob, _conversation, message = await _setup(directory)
    stranger = await directory.company("Other")
    for method, url, body in (
        ("patch", f"/api/v1/messages/{message['id']}", {"body": "x"}),
        ("delete", f"/api/v1/messages/{message['id']}", None),
        ("get", f"/api/v1/messages/{message['id']}/edits", None),
        ("put", f"/api/v1/messages/{message['id']}/reactions/👍", None),
        ("delete", f"/api/v1/messages/{message['id']}/reactions/👍", None),
    ):
        kwargs = {"json": body} if body is not None else {}
        r = await getattr(stranger, method)(url, **kwargs)
        assert r.status_code == 404, (method, url)
        assert r.json()["error"]["code"] == "not_found"


async def test_window_says_where_to_subscribe_and_one_message_can_be_refetched(
    directory: Directory,
) -> None:
    admin, bob, conversation, message = await _setup(directory)
    await admin.put(f"/api/v1/messages/{message['id']}/reactions/👍")
    page = (await bob.get(f"/api/v1/conversations/{conversation['id']}/messages")).json()
    # The reaction came after the message: the window's last_seq covers it, so a client
    # subscribing after last_seq does not get the reaction a second time.
    assert page["last_seq"] == message["seq"] + 1
    assert page["messages"][-1]["reactions"] == [{"emoji": "👍", "count": 1, "me": False}]
    one = await bob.get(f"/api/v1/messages/{message['id']}")
    assert one.status_code == 200
    assert one.json()["body"] == "first" and one.json()["reactions"][0]["count"] == 1
