"""Sending messages: idempotency, body limits, strict input, threads and read receipts."""

from __future__ import annotations

from typing import Any

import pytest

from hallway.config import Settings
from tests.support import Directory, Person, company_rows, error_of, named_fields, send

pytestmark = pytest.mark.anyio

MESSAGE_KEYS = {
    "id",
    "conversation_id",
    "seq",
    "sender_id",
    "body",
    "body_html",
    "client_msg_id",
    "thread_root_id",
    "created_at",
    "edited_at",
    "deleted_at",
    "deleted_by",
    "attachments",
    "reactions",
    "mentions",
    "mention_kind",
    "reply_count",
    "last_reply_at",
    "reply_user_ids",
}


@pytest.fixture
async def pair(directory: Directory) -> tuple[Person, Person, dict[str, Any]]:
    """Two colleagues and their direct conversation."""
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    return admin, bob, await directory.conversation(admin, "direct", [bob])


def messages_url(conversation: dict[str, Any]) -> str:
    return f"/api/v1/conversations/{conversation['id']}/messages"


async def last_seq(person: Person, conversation: dict[str, Any]) -> int:
    r = await person.get(f"/api/v1/conversations/{conversation['id']}")
    return int(r.json()["last_seq"])


async def test_send_answers_the_message_and_logs_it(pair: Any) -> None:
    admin, bob, conversation = pair
    r = await admin.post(messages_url(conversation), json={"body": "  hello bob  "})
    assert r.status_code == 201, r.text
    message = r.json()
    assert set(message) == MESSAGE_KEYS
    assert message["conversation_id"] == conversation["id"]
    assert message["sender_id"] == admin.id
    # The body is kept as written; only the emptiness check ignores whitespace.
    assert message["body"] == "  hello bob  "
    assert message["seq"] == 2  # after the conversation's member.added
    assert (message["client_msg_id"], message["thread_root_id"]) == (None, None)
    assert (message["edited_at"], message["deleted_at"]) == (None, None)
    assert (message["attachments"], message["reactions"]) == ([], [])
    events = (await bob.get(f"/api/v1/conversations/{conversation['id']}/events")).json()
    created = events["events"][-1]
    assert (created["seq"], created["kind"]) == (2, "message.created")
    # The logged event carries the message exactly as the sender got it back.
    assert created["data"] == message
    assert events["last_seq"] == 2


async def test_repeated_client_msg_id_returns_the_original(pair: Any, settings: Settings) -> None:
    admin, bob, conversation = pair
    first = await admin.post(
        messages_url(conversation), json={"body": "once", "client_msg_id": "tab1:0001"}
    )
    assert first.status_code == 201
    seq_after_first = await last_seq(admin, conversation)
    rows_after_first = await company_rows(
        settings.effective_migration_database_url, [admin.company_id]
    )

    again = await admin.post(
        messages_url(conversation), json={"body": "once, retried", "client_msg_id": "tab1:0001"}
    )
    assert again.status_code == 200
    assert again.json() == first.json()
    assert await last_seq(admin, conversation) == seq_after_first
    rows = await company_rows(settings.effective_migration_database_url, [admin.company_id])
    assert rows == rows_after_first

    # The id is per sender: Bob using the same id sends his own message.
    bobs = await bob.post(
        messages_url(conversation), json={"body": "mine", "client_msg_id": "tab1:0001"}
    )
    assert bobs.status_code == 201
    assert bobs.json()["id"] != first.json()["id"]


@pytest.mark.parametrize("client_msg_id", ["", "has space", "x" * 65, "semi;colon"])
async def test_client_msg_id_must_be_a_token(pair: Any, client_msg_id: str) -> None:
    admin, _, conversation = pair
    r = await admin.post(
        messages_url(conversation), json={"body": "hi", "client_msg_id": client_msg_id}
    )
    assert named_fields(error_of(r, 422)) == {"client_msg_id"}


async def test_body_at_the_limit_is_accepted(pair: Any, settings: Settings) -> None:
    admin, _, conversation = pair
    message = await send(admin, conversation["id"], "é" * settings.max_body_chars)
    assert len(message["body"]) == settings.max_body_chars


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("x", "body_too_long"),  # repeated to the limit + 1 below
        ("", "empty_body"),
        (" \n\t ", "empty_body"),
    ],
    ids=["too-long", "empty", "whitespace"],
)
async def test_bad_bodies_are_refused_and_write_nothing(
    pair: Any, settings: Settings, body: str, code: str
) -> None:
    admin, _, conversation = pair
    if code == "body_too_long":
        body = body * (settings.max_body_chars + 1)
    before = await company_rows(settings.effective_migration_database_url, [admin.company_id])
    r = await admin.post(messages_url(conversation), json={"body": body, "client_msg_id": "c1"})
    assert named_fields(error_of(r, 422, code)) == {"body"}
    assert (
        await company_rows(settings.effective_migration_database_url, [admin.company_id]) == before
    )
    # The refused client_msg_id is still free.
    assert (await send(admin, conversation["id"], "ok", client_msg_id="c1"))["seq"] == 2


async def test_missing_body_is_an_empty_message(pair: Any) -> None:
    admin, _, conversation = pair
    r = await admin.post(messages_url(conversation), json={})
    error_of(r, 422, "empty_body")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"body": "hi", "sender_id": "someone-else"}, "sender_id"),
        ({"body": "hi", "seq": 1}, "seq"),
        ({"body": 5}, "body"),
        ({"body": "hi", "attachment_ids": "abc"}, "attachment_ids"),
        ({"body": "hi", "thread_root_id": ["x"]}, "thread_root_id"),
    ],
)
async def test_unknown_or_mistyped_fields_are_named(
    pair: Any, settings: Settings, payload: dict[str, Any], field: str
) -> None:
    admin, _, conversation = pair
    before = await company_rows(settings.effective_migration_database_url, [admin.company_id])
    r = await admin.post(messages_url(conversation), json=payload)
    error = error_of(r, 422, "validation_error")
    assert field in named_fields(error)
    assert field in error["message"]
    assert (
        await company_rows(settings.effective_migration_database_url, [admin.company_id]) == before
    )


@pytest.mark.parametrize("raw", [b"{", b'{"body": "hi",}', b"not json", b"\xff\xfe"])
async def test_malformed_json_is_400(pair: Any, raw: bytes) -> None:
    admin, _, conversation = pair
    r = await admin.client.post(
        messages_url(conversation),
        content=raw,
        headers={**admin.headers, "Content-Type": "application/json"},
    )
    error_of(r, 400, "malformed_json")


# --- threads --------------------------------------------------------------------------------


def thread_url(message: dict[str, Any]) -> str:
    return f"/api/v1/messages/{message['id']}/thread"


async def test_threads_are_one_level_deep(pair: Any) -> None:
    admin, bob, conversation = pair
    root = await send(admin, conversation["id"], "root")
    reply = await send(bob, conversation["id"], "reply", thread_root_id=root["id"])
    assert reply["thread_root_id"] == root["id"]
    # Replying to a reply joins the root's thread.
    nested = await send(admin, conversation["id"], "reply to reply", thread_root_id=reply["id"])
    assert nested["thread_root_id"] == root["id"]
    await send(admin, conversation["id"], "not in the thread")

    r = await bob.get(thread_url(root))
    assert r.status_code == 200, r.text
    thread = r.json()
    assert thread["root"]["id"] == root["id"]
    assert [m["body"] for m in thread["replies"]] == ["reply", "reply to reply"]
    assert (thread["has_more"], thread["next_cursor"]) == (False, None)
    # The thread's replies show in their thread only; the root counts them.
    history = (await bob.get(messages_url(conversation))).json()["messages"]
    assert [m["body"] for m in history] == ["root", "not in the thread"]
    assert history[0]["reply_count"] == 2


async def test_thread_pages_forward(pair: Any) -> None:
    admin, _, conversation = pair
    root = await send(admin, conversation["id"], "root")
    for i in range(5):
        await send(admin, conversation["id"], f"r{i}", thread_root_id=root["id"])
    bodies: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = (await admin.get(thread_url(root), params=params)).json()
        bodies += [m["body"] for m in page["replies"]]
        if not page["has_more"]:
            break
        params["after"] = page["next_cursor"]
    assert bodies == [f"r{i}" for i in range(5)]


async def test_thread_root_must_be_in_this_conversation(
    directory: Directory, settings: Settings
) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    here = await directory.conversation(admin, "direct", [bob])
    there = await directory.conversation(admin, "group", [bob], "elsewhere")
    elsewhere = await send(admin, there["id"], "over there")
    before = await company_rows(settings.effective_migration_database_url, [admin.company_id])
    for root_id in (elsewhere["id"], "no-such-message"):
        r = await admin.post(messages_url(here), json={"body": "hi", "thread_root_id": root_id})
        assert named_fields(error_of(r, 422)) == {"thread_root_id"}
    assert (
        await company_rows(settings.effective_migration_database_url, [admin.company_id]) == before
    )


# --- read receipts --------------------------------------------------------------------------


async def read(person: Person, conversation: dict[str, Any], seq: int) -> Any:
    return await person.post(f"/api/v1/conversations/{conversation['id']}/read", json={"seq": seq})


async def unread(person: Person, conversation: dict[str, Any]) -> int:
    listed = (await person.get("/api/v1/conversations")).json()["conversations"]
    return int(next(c for c in listed if c["id"] == conversation["id"])["unread_count"])


async def test_read_receipts_move_forward_and_drive_unread_counts(pair: Any) -> None:
    admin, bob, conversation = pair
    sent = [await send(admin, conversation["id"], f"m{i}") for i in range(4)]
    assert await unread(bob, conversation) == 4

    r = await read(bob, conversation, sent[1]["seq"])
    assert r.status_code == 200, r.text
    assert r.json() == {"conversation_id": conversation["id"], "last_read_seq": sent[1]["seq"]}
    assert await unread(bob, conversation) == 2
    receipt = (await admin.get(f"/api/v1/conversations/{conversation['id']}/events")).json()
    assert receipt["events"][-1]["kind"] == "receipt.updated"
    assert receipt["events"][-1]["data"] == {"user_id": bob.id, "last_read_seq": sent[1]["seq"]}
    seq_after_receipt = receipt["last_seq"]

    # Backwards is a no-op: the marker stays, nothing is logged.
    back = await read(bob, conversation, sent[0]["seq"])
    assert back.json()["last_read_seq"] == sent[1]["seq"]
    assert await unread(bob, conversation) == 2
    assert await last_seq(bob, conversation) == seq_after_receipt

    # Past the end is capped at the conversation's last seq.
    far = await read(bob, conversation, 10**12)
    assert far.json()["last_read_seq"] == seq_after_receipt
    assert await unread(bob, conversation) == 0
    me = (await bob.get(f"/api/v1/conversations/{conversation['id']}")).json()
    assert me["last_read_seq"] == seq_after_receipt


@pytest.mark.parametrize("payload", [{"seq": -1}, {"seq": "two"}, {}, {"seq": 1, "x": 1}])
async def test_read_refuses_bad_seq(pair: Any, payload: dict[str, Any]) -> None:
    admin, _, conversation = pair
    r = await admin.post(f"/api/v1/conversations/{conversation['id']}/read", json=payload)
    assert named_fields(error_of(r, 422)) & {"seq", "x"}
