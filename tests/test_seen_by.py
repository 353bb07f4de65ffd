""" "Seen by": who receives whose read markers, each member's marker in the conversation,
and marking a message unread."""

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
    on_two_nodes,
    send,
)

pytestmark = pytest.mark.anyio


def url(conversation: dict[str, Any], tail: str = "") -> str:
    return f"/api/v1/conversations/{conversation['id']}{tail}"


async def markers(person: Person, conversation: dict[str, Any]) -> dict[str, Any]:
    r = await person.get(url(conversation))
    assert r.status_code == 200, r.text
    return {m["user_id"]: m["last_read_seq"] for m in r.json()["members"]}


async def test_members_of_a_group_show_how_far_each_has_read(directory: Directory) -> None:
    admin, bob, group = await directory.team()
    sent = [await send(admin, group["id"], f"m{i}") for i in range(3)]
    r = await bob.post(url(group, "/read"), json={"seq": sent[1]["seq"]})
    assert r.status_code == 200, r.text

    seen = await markers(admin, group)
    assert seen == {admin.id: 0, bob.id: sent[1]["seq"]}
    listed = (await admin.get("/api/v1/conversations")).json()["conversations"]
    assert {m["user_id"]: m["last_read_seq"] for m in listed[0]["members"]} == seen
    log = (await admin.get(url(group, "/events"))).json()["events"]
    assert log[-1]["kind"] == "receipt.updated"
    assert log[-1]["data"] == {"user_id": bob.id, "last_read_seq": sent[1]["seq"]}


async def test_a_channel_keeps_its_readers_markers_to_themselves(directory: Directory) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    channel = await directory.conversation(admin, "channel", [bob], "general")
    message = await send(admin, channel["id"], "hello")

    r = await bob.post(url(channel, "/read"), json={"seq": message["seq"]})
    assert r.json() == {"conversation_id": channel["id"], "last_read_seq": message["seq"]}
    view = (await bob.get(url(channel))).json()
    # Not logged: the channel's log ends with the message.
    assert view["last_seq"] == message["seq"]
    assert view["last_read_seq"] == message["seq"]
    assert set((await markers(admin, channel)).values()) == {None}
    listed = (await bob.get("/api/v1/conversations")).json()["conversations"]
    assert listed[0]["unread_count"] == 0


async def test_mark_unread_moves_the_marker_back_before_the_message(
    directory: Directory,
) -> None:
    admin, bob, group = await directory.team()
    sent = [await send(admin, group["id"], f"m{i}") for i in range(3)]
    await bob.post(url(group, "/read"), json={"seq": 10**9})

    r = await bob.post(url(group, "/unread"), json={"seq": sent[1]["seq"]})
    assert r.status_code == 200, r.text
    assert r.json() == {"conversation_id": group["id"], "last_read_seq": sent[1]["seq"] - 1}
    listed = (await bob.get("/api/v1/conversations")).json()["conversations"]
    assert listed[0]["unread_count"] == 2
    assert listed[0]["last_read_seq"] == sent[1]["seq"] - 1
    log = (await admin.get(url(group, "/events"))).json()["events"]
    assert log[-1]["kind"] == "receipt.updated"
    assert log[-1]["data"] == {"user_id": bob.id, "last_read_seq": sent[1]["seq"] - 1}
    last_seq = (await bob.get(url(group))).json()["last_seq"]

    # A later message, already unread: the marker stays and nothing is logged.
    again = await bob.post(url(group, "/unread"), json={"seq": sent[2]["seq"]})
    assert again.json()["last_read_seq"] == sent[1]["seq"] - 1
    assert (await bob.get(url(group))).json()["last_seq"] == last_seq


@pytest.mark.parametrize("payload", [{"seq": 0}, {"seq": "x"}, {}, {"seq": 1, "x": 1}])
async def test_mark_unread_refuses_bad_input(directory: Directory, payload: Any) -> None:
    _admin, bob, group = await directory.team()
    r = await bob.post(url(group, "/unread"), json=payload)
    error_of(r, 422)


async def test_mark_unread_needs_a_message_of_the_conversation(directory: Directory) -> None:
    admin, bob, group = await directory.team()
    message = await send(admin, group["id"], "hi")
    await bob.post(url(group, "/read"), json={"seq": message["seq"]})
    # Seq 1 is the group's member.added event, not a message.
    r = await bob.post(url(group, "/unread"), json={"seq": 1})
    assert named_fields(error_of(r, 422)) == {"seq"}
    assert (await bob.get(url(group))).json()["last_read_seq"] == message["seq"]
    stranger = await directory.company("Other")
    error_of(await stranger.post(url(group, "/unread"), json={"seq": message["seq"]}), 404)


# --- live, over real sockets ---------------------------------------------------------------


async def subscribe(ws: Any, conversation: dict[str, Any]) -> None:
    await ws.send(
        orjson.dumps({"type": "subscribe", "conversation_id": conversation["id"]}).decode()
    )
    await frames_of_types(ws, ["subscribed"], 1)


async def test_the_others_of_a_group_see_a_receipt_live(
    live: Directory, server: ServerProcess
) -> None:
    admin, bob, group = await live.team()
    message = await send(admin, group["id"], "read me")
    ws = await authenticated_socket(server, admin)
    try:
        await subscribe(ws, group)
        await bob.post(url(group, "/read"), json={"seq": message["seq"]})
        (event,) = await frames_of_types(ws, ["event"], 1)
        assert event["kind"] == "receipt.updated"
        assert event["data"] == {"user_id": bob.id, "last_read_seq": message["seq"]}
        await bob.post(url(group, "/unread"), json={"seq": message["seq"]})
        (event,) = await frames_of_types(ws, ["event"], 1)
        assert event["data"] == {"user_id": bob.id, "last_read_seq": message["seq"] - 1}
    finally:
        await ws.close()


async def test_the_readers_own_subscribed_socket_sees_their_mark_unread(
    live: Directory, server: ServerProcess
) -> None:
    """Another tab of the reader follows the group: "Mark unread" reaches it as an event,
    which brings its badge back (web/main.js myReceipt)."""
    admin, bob, group = await live.team()
    message = await send(admin, group["id"], "read me")
    await bob.post(url(group, "/read"), json={"seq": message["seq"]})
    ws = await authenticated_socket(server, bob)
    try:
        await subscribe(ws, group)
        await bob.post(url(group, "/unread"), json={"seq": message["seq"]})
        (event,) = await frames_of_types(ws, ["event"], 1)
        assert event["kind"] == "receipt.updated"
        assert event["data"] == {"user_id": bob.id, "last_read_seq": message["seq"] - 1}
    finally:
        await ws.close()


async def test_in_a_channel_only_the_readers_own_sockets_learn_of_it(
    live: Directory, server: ServerProcess
) -> None:
    admin = await live.company()
    bob = await live.colleague(admin, "Bob")
    channel = await live.conversation(admin, "channel", [bob], "general")
    message = await send(admin, channel["id"], "hello")
    admin_ws = await authenticated_socket(server, admin)
    bob_ws = await authenticated_socket(server, bob)  # another tab: not even subscribed
    try:
        await subscribe(admin_ws, channel)
        await bob.post(url(channel, "/read"), json={"seq": message["seq"]})
        (receipt,) = await frames_of_types(bob_ws, ["receipt"], 1)
        assert receipt == {
            "type": "receipt",
            "conversation_id": channel["id"],
            "user_id": bob.id,
            "last_read_seq": message["seq"],
        }
        # The admin's next event is the next message: no receipt came before it.
        later = await send(admin, channel["id"], "later")
        (event,) = await frames_of_types(admin_ws, ["event", "receipt"], 1)
        assert (event["kind"], event["seq"]) == ("message.created", later["seq"])
    finally:
        await admin_ws.close()
        await bob_ws.close()


@on_two_nodes
async def test_a_channel_receipt_reaches_the_readers_socket_on_another_node(
    two_nodes: tuple[ServerProcess, ServerProcess, Directory],
) -> None:
    node_a, _node_b, directory = two_nodes
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    channel = await directory.conversation(admin, "channel", [bob], "general")
    message = await send(admin, channel["id"], "hello")
    ws = await authenticated_socket(node_a, bob)
    try:
        # Read through node B (the directory's): the frame crosses Redis to node A.
        await bob.post(url(channel, "/read"), json={"seq": message["seq"]})
        (receipt,) = await frames_of_types(ws, ["receipt"], 1)
        assert (receipt["conversation_id"], receipt["last_read_seq"]) == (
            channel["id"],
            message["seq"],
        )
    finally:
        await ws.close()
