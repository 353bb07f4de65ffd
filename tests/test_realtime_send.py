"""Sending over the realtime socket: the same message, checks and errors as the HTTP send,
over a real WebSocket to a real server process."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection

from tests.support import (
    Directory,
    Person,
    ServerProcess,
    authenticated_socket,
    frames_of_types,
    realtime,
    send,
)

pytestmark = pytest.mark.anyio

MISSING = "00000000-0000-0000-0000-000000000000"


async def _answers(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    """The next `count` answers to sends (`sent` and `error` frames), presence skipped."""
    return await frames_of_types(ws, ("sent", "error"), count)


async def _history(person: Person, conversation_id: str) -> list[dict[str, Any]]:
    r = await person.get(f"/api/v1/conversations/{conversation_id}/messages?limit=100")
    assert r.status_code == 200
    messages: list[dict[str, Any]] = r.json()["messages"]
    return messages


@pytest.mark.every_server
async def test_a_sent_message_is_answered_stored_and_delivered(
    live: Directory, server: ServerProcess
) -> None:
    admin, bob, conversation = await live.team()
    cid = conversation["id"]
    async with realtime(server, bob) as listener, realtime(server, admin) as sender:
        await listener.subscribe(cid)
        answer = await sender.send_message(cid, "over the socket", client_msg_id="s-1")
        event = await listener.next_event()
    assert answer["type"] == "sent"
    assert answer["ref"].startswith("send-")
    assert answer["created"] is True
    message = answer["message"]
    assert message["body"] == "over the socket"
    assert message["sender_id"] == admin.id
    assert message["client_msg_id"] == "s-1"
    assert event["kind"] == "message.created"
    assert event["data"] == message
    assert event["seq"] == message["seq"]
    [stored] = [m for m in await _history(admin, cid) if m["id"] == message["id"]]
    assert stored == message


@pytest.mark.every_server
async def test_a_repeated_client_msg_id_answers_the_original_once_stored(
    live: Directory, server: ServerProcess
) -> None:
    admin, _bob, conversation = await live.team()
    cid = conversation["id"]
    over_http = await send(admin, cid, "first", client_msg_id="same")
    async with realtime(server, admin) as client:
        again = await client.send_message(cid, "second", client_msg_id="same")
        fresh = await client.send_message(cid, "third", client_msg_id="other")
        repeat = await client.send_message(cid, "fourth", client_msg_id="other")
    assert again["created"] is False
    assert again["message"] == over_http
    assert fresh["created"] is True
    assert repeat["created"] is False
    assert repeat["message"]["id"] == fresh["message"]["id"]
    bodies = [m["body"] for m in await _history(admin, cid)]
    assert bodies.count("first") == bodies.count("third") == 1
    assert "second" not in bodies and "fourth" not in bodies


@pytest.mark.parametrize(
    "fields",
    [
        {"body": ""},
        {"body": "   "},
        {"body": "x" * 10_001},
        {"body": 42},
        {"body": "hi", "client_msg_id": "has spaces"},
        {"body": "hi", "thread_root_id": MISSING},
        {"body": "hi", "attachment_ids": [MISSING]},
        {"body": "hi", "colour": "red"},
        {"body": "nul \u0000 inside"},
    ],
)
async def test_bad_input_answers_the_http_error_and_changes_nothing(
    live: Directory, server: ServerProcess, fields: dict[str, Any]
) -> None:
    admin, _bob, conversation = await live.team()
    cid = conversation["id"]
    before = await _history(admin, cid)
    r = await admin.post(f"/api/v1/conversations/{cid}/messages", json=fields)
    assert 400 <= r.status_code < 500
    over_http = r.json()["error"]
    ws = await authenticated_socket(server, admin)
    try:
        frame = {"type": "send", "ref": "r-1", "conversation_id": cid, **fields}
        await ws.send(orjson.dumps(frame).decode())
        [answer] = await _answers(ws, 1)
    finally:
        await ws.close()
    assert answer["type"] == "error"
    assert answer["ref"] == "r-1"
    assert "conversation_id" not in answer  # not a refused subscription
    assert (answer["code"], answer["message"], answer["details"]) == (
        over_http["code"],
        over_http["message"],
        over_http["details"],
    )
    assert await _history(admin, cid) == before


@pytest.mark.every_server
async def test_outsiders_and_missing_conversations_get_one_not_found(
    live: Directory, server: ServerProcess
) -> None:
    admin, _bob, conversation = await live.team()
    colleague = await live.colleague(admin, "Nosy")
    stranger = await live.company("Elsewhere")
    for person in (colleague, stranger):
        async with realtime(server, person) as client:
            refused = await client.send_message(conversation["id"], "let me in")
            missing = await client.send_message(MISSING, "anyone?")
        assert refused["type"] == missing["type"] == "error"
        assert refused["code"] == missing["code"] == "not_found"
        assert refused["message"] == missing["message"]
    assert await _history(admin, conversation["id"]) == []


@pytest.mark.every_server
async def test_malformed_send_frames_are_refused(live: Directory, server: ServerProcess) -> None:
    admin, _bob, conversation = await live.team()
    cid = conversation["id"]
    ws = await authenticated_socket(server, admin)
    try:
        for frame in (
            {"type": "send", "ref": "no-conversation", "body": "hi"},
            {"type": "send", "ref": "blank", "conversation_id": "", "body": "hi"},
            {"type": "send", "ref": 7, "conversation_id": cid, "body": "hi"},
            {"type": "send", "ref": "r" * 65, "conversation_id": cid, "body": "hi"},
        ):
            await ws.send(orjson.dumps(frame).decode())
        answers = await _answers(ws, 4)
        # The socket still works after them.
        ok = {"type": "send", "ref": "fine", "conversation_id": cid, "body": "still here"}
        await ws.send(orjson.dumps(ok).decode())
        [sent] = await _answers(ws, 1)
    finally:
        await ws.close()
    assert [(a["type"], a["code"], a.get("ref")) for a in answers] == [
        ("error", "invalid_frame", "no-conversation"),
        ("error", "invalid_frame", "blank"),
        ("error", "invalid_frame", None),
        ("error", "invalid_frame", None),
    ]
    assert (sent["type"], sent["ref"], sent["message"]["body"]) == ("sent", "fine", "still here")
    assert [m["body"] for m in await _history(admin, cid)] == ["still here"]


@pytest.mark.every_server
async def test_a_burst_of_sends_is_stored_and_answered_in_order(
    live: Directory, server: ServerProcess
) -> None:
    """Sends written without waiting for their answers (more than the session holds before
    it stops reading the socket) are stored in the order sent, with consecutive seqs."""
    admin, _bob, conversation = await live.team()
    cid = conversation["id"]
    burst = 60
    ws = await authenticated_socket(server, admin)
    try:
        for i in range(burst):
            frame = {"type": "send", "ref": f"r{i}", "conversation_id": cid, "body": f"m{i}"}
            await ws.send(orjson.dumps(frame).decode())
        answers = await _answers(ws, burst)
    finally:
        await ws.close()
    assert [a["ref"] for a in answers] == [f"r{i}" for i in range(burst)]
    assert {a["type"] for a in answers} == {"sent"}
    seqs = [a["message"]["seq"] for a in answers]
    assert seqs == list(range(seqs[0], seqs[0] + burst))
    stored = await _history(admin, cid)
    assert [m["body"] for m in stored] == [f"m{i}" for i in range(burst)]


@pytest.mark.every_server
async def test_a_burst_of_replies_and_plain_sends_keeps_its_order(
    live: Directory, server: ServerProcess
) -> None:
    """A reply is written on a transaction of its own (on PostgreSQL a plain send is one
    statement on another connection): a socket's next send still starts only once the last
    one committed, so the order sent is the order stored."""
    admin, _bob, conversation = await live.team()
    cid = conversation["id"]
    root = await send(admin, cid, "root")
    burst = 30
    ws = await authenticated_socket(server, admin)
    try:
        for i in range(burst):
            frame: dict[str, Any] = {"type": "send", "ref": f"r{i}", "conversation_id": cid}
            frame["body"] = f"m{i}"
            if i % 2:
                frame["thread_root_id"] = root["id"]
            await ws.send(orjson.dumps(frame).decode())
        answers = await _answers(ws, burst)
    finally:
        await ws.close()
    assert [a["ref"] for a in answers] == [f"r{i}" for i in range(burst)]
    seqs = [a["message"]["seq"] for a in answers]
    # Each reply is followed in the log by its root's thread.updated.
    assert seqs == sorted(seqs) and seqs[-1] - seqs[0] == burst - 1 + burst // 2 - 1
    stored = await _history(admin, cid)
    assert [m["body"] for m in stored] == ["root"] + [f"m{i}" for i in range(0, burst, 2)]
    r = await admin.get(f"/api/v1/messages/{root['id']}/thread", params={"limit": 100})
    assert [m["body"] for m in r.json()["replies"]] == [f"m{i}" for i in range(1, burst, 2)]


async def test_a_reply_joins_its_thread(live: Directory, server: ServerProcess) -> None:
    admin, bob, conversation = await live.team()
    cid = conversation["id"]
    root = await send(admin, cid, "root")
    async with realtime(server, bob) as client:
        reply = await client.send_message(cid, "reply", thread_root_id=root["id"])
    assert reply["type"] == "sent"
    assert reply["message"]["thread_root_id"] == root["id"]
    r = await admin.get(f"/api/v1/messages/{root['id']}/thread")
    assert r.status_code == 200
    assert [m["body"] for m in r.json()["replies"]] == ["reply"]
