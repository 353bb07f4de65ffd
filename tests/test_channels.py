"""A channel's topic, and archiving a channel (read-only) and unarchiving it."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.support import (
    Directory,
    Person,
    ServerProcess,
    authenticated_socket,
    error_of,
    frames_of_types,
    named_fields,
    send,
)

pytestmark = pytest.mark.anyio


def url(conversation: dict[str, Any], tail: str = "") -> str:
    return f"/api/v1/conversations/{conversation['id']}{tail}"


async def channel_of_three(directory: Directory) -> tuple[Person, Person, Person, dict[str, Any]]:
    """An admin, Bob who creates #plans, and Carol, a member of it."""
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    carol = await directory.colleague(admin, "Carol")
    channel = await directory.conversation(bob, "channel", [admin, carol], "plans")
    return admin, bob, carol, channel


async def last_event(person: Person, conversation: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = (await person.get(url(conversation, "/events"))).json()["events"][-1]
    return event


async def test_any_member_sets_the_topic(directory: Directory) -> None:
    admin, bob, carol, channel = await channel_of_three(directory)
    assert channel["topic"] is None and channel["archived_at"] is None

    r = await carol.put(url(channel, "/topic"), json={"topic": "  Q3 planning  "})
    assert r.status_code == 200, r.text
    assert r.json()["topic"] == "Q3 planning"
    event = await last_event(bob, channel)
    assert event["kind"] == "conversation.updated"
    assert event["data"] == {
        "title": "plans",
        "topic": "Q3 planning",
        "archived_at": None,
        "updated_by": carol.id,
    }
    assert r.json()["last_seq"] == event["seq"]
    listed = (await bob.get("/api/v1/conversations")).json()["conversations"]
    assert listed[0]["topic"] == "Q3 planning"
    channels = (await admin.get("/api/v1/channels")).json()["channels"]
    assert channels[0]["topic"] == "Q3 planning"

    # The same topic again logs nothing; null clears it.
    same = await bob.put(url(channel, "/topic"), json={"topic": "Q3 planning"})
    assert same.json()["last_seq"] == event["seq"]
    cleared = await bob.put(url(channel, "/topic"), json={"topic": None})
    assert cleared.json()["topic"] is None


async def test_a_topic_is_checked(directory: Directory) -> None:
    admin, bob, _carol, channel = await channel_of_three(directory)
    r = await bob.put(url(channel, "/topic"), json={"topic": "x" * 251})
    assert named_fields(error_of(r, 422)) == {"topic"}
    error_of(await bob.put(url(channel, "/topic"), json={"topic": "a\x07b"}), 422)
    error_of(await bob.put(url(channel, "/topic"), json={}), 422)
    group = await directory.conversation(admin, "group", [bob], "g")
    error_of(await bob.put(url(group, "/topic"), json={"topic": "t"}), 422, "not_a_channel")
    stranger = await directory.company("Other")
    error_of(await stranger.put(url(channel, "/topic"), json={"topic": "t"}), 404)
    assert (await bob.get(url(channel))).json()["topic"] is None


async def test_an_archived_channel_is_read_only_until_unarchived(directory: Directory) -> None:
    admin, bob, carol, channel = await channel_of_three(directory)
    message = await send(carol, channel["id"], "before")

    error_of(await carol.post(url(channel, "/archive")), 403, "not_creator")
    r = await bob.post(url(channel, "/archive"))
    assert r.status_code == 200, r.text
    assert r.json()["archived_at"] is not None
    event = await last_event(carol, channel)
    assert event["kind"] == "conversation.updated"
    assert event["data"]["archived_at"] is not None
    assert event["data"]["updated_by"] == bob.id
    last_seq = event["seq"]

    sent = await carol.post(url(channel, "/messages"), json={"body": "after"})
    error_of(sent, 409, "conversation_archived")
    edit = await carol.patch(f"/api/v1/messages/{message['id']}", json={"body": "changed"})
    error_of(edit, 409, "conversation_archived")
    react = await carol.put(f"/api/v1/messages/{message['id']}/reactions/👍")
    error_of(react, 409, "conversation_archived")
    # Still readable, and nothing was logged by the refusals.
    history = (await carol.get(url(channel, "/messages"))).json()
    assert [m["body"] for m in history["messages"]] == ["before"]
    assert (await carol.get(url(channel))).json()["last_seq"] == last_seq
    listed = (await carol.get("/api/v1/conversations")).json()["conversations"]
    assert listed[0]["archived_at"] is not None

    # Archiving again changes nothing; an admin unarchives.
    assert (await bob.post(url(channel, "/archive"))).json()["last_seq"] == last_seq
    back = await admin.delete(url(channel, "/archive"))
    assert back.status_code == 200, back.text
    assert back.json()["archived_at"] is None
    await send(carol, channel["id"], "after")


async def test_only_channels_are_archived(directory: Directory) -> None:
    admin, bob, group = await directory.team()
    error_of(await admin.post(url(group, "/archive")), 422, "not_a_channel")
    await send(bob, group["id"], "still open")
    stranger = await directory.company("Other")
    error_of(await stranger.post(url(group, "/archive")), 404)


# --- live, over real sockets ---------------------------------------------------------------


async def test_topic_and_archive_reach_subscribers_and_a_socket_send_is_refused(
    live: Directory, server: ServerProcess
) -> None:
    _admin, bob, carol, channel = await channel_of_three(live)
    ws = await authenticated_socket(server, carol)
    try:
        await ws.send(
            orjson.dumps({"type": "subscribe", "conversation_id": channel["id"]}).decode()
        )
        await frames_of_types(ws, ["subscribed"], 1)
        await bob.put(url(channel, "/topic"), json={"topic": "launch"})
        await bob.post(url(channel, "/archive"))
        topic, archived = await frames_of_types(ws, ["event"], 2)
        assert topic["kind"] == archived["kind"] == "conversation.updated"
        assert topic["data"]["topic"] == "launch"
        assert archived["data"]["archived_at"] is not None

        send_frame = {
            "type": "send",
            "ref": "r1",
            "conversation_id": channel["id"],
            "body": "over the socket",
        }
        await ws.send(orjson.dumps(send_frame).decode())
        (refused,) = await frames_of_types(ws, ["error", "sent"], 1)
        assert (refused["type"], refused["code"], refused["ref"]) == (
            "error",
            "conversation_archived",
            "r1",
        )
    finally:
        await ws.close()
