"""History windows (keyset cursors on seq) and the catch-up feed of events after a seq."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.files_support import png_bytes, send_files, uploaded
from tests.support import Directory, Person, error_of, named_fields, send

pytestmark = pytest.mark.anyio


@pytest.fixture
async def group(directory: Directory) -> tuple[Person, Person, dict[str, Any]]:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    return admin, bob, await directory.conversation(admin, "group", [bob], "History")


def history_url(conversation: dict[str, Any]) -> str:
    return f"/api/v1/conversations/{conversation['id']}/messages"


def events_url(conversation: dict[str, Any]) -> str:
    return f"/api/v1/conversations/{conversation['id']}/events"


def cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


# --- history windows ------------------------------------------------------------------------


async def test_default_window_is_the_newest_twenty(group: Any) -> None:
    admin, bob, conversation = group
    for i in range(25):
        await send(admin, conversation["id"], f"m{i}")
    page = (await bob.get(history_url(conversation))).json()
    assert [m["body"] for m in page["messages"]] == [f"m{i}" for i in range(5, 25)]
    assert page["has_more"] is True
    older = (
        await bob.get(history_url(conversation), params={"before": page["next_cursor"]})
    ).json()
    assert [m["body"] for m in older["messages"]] == [f"m{i}" for i in range(5)]
    assert (older["has_more"], older["next_cursor"]) == (False, None)


async def test_an_empty_conversation_has_an_empty_window(group: Any) -> None:
    _, bob, conversation = group
    page = (await bob.get(history_url(conversation))).json()
    # last_seq 1: the conversation's only event is its creation (member.added).
    assert page == {"messages": [], "next_cursor": None, "has_more": False, "last_seq": 1}


@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten"])
async def test_limit_is_one_to_a_hundred(group: Any, limit: str) -> None:
    admin, _, conversation = group
    r = await admin.get(history_url(conversation), params={"limit": limit})
    assert named_fields(error_of(r, 422, "validation_error")) == {"limit"}


async def test_walking_back_returns_every_message_once_in_order(group: Any) -> None:
    admin, bob, conversation = group
    sent = [
        (await send(admin if i % 3 else bob, conversation["id"], f"m{i}"))["id"] for i in range(250)
    ]
    windows: list[list[str]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = (await bob.get(history_url(conversation), params=params)).json()
        seqs = [m["seq"] for m in page["messages"]]
        assert seqs == sorted(seqs), "a window is oldest first"
        windows.append([m["id"] for m in page["messages"]])
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        params["before"] = page["next_cursor"]
    assert [len(w) for w in windows] == [100, 100, 50]
    walked = [message_id for window in reversed(windows) for message_id in window]
    assert walked == sent


@pytest.mark.parametrize(
    "before",
    [
        "%%%",
        "not-base64!",
        cursor("seq"),
        cursor("seq|abc"),
        cursor("seq|-3"),
        cursor("seq|²"),
        cursor("seq|" + "9" * 30),
        cursor("time|5"),
        cursor("seq|5|6"),
        cursor("seq|\x00"),
    ],
)
async def test_a_forged_cursor_is_a_clear_error(group: Any, before: str) -> None:
    admin, _, conversation = group
    await send(admin, conversation["id"], "hello")
    r = await admin.get(history_url(conversation), params={"before": before})
    assert named_fields(error_of(r, 422, "invalid_cursor")) == {"before"}


async def test_a_thread_cursor_is_checked_too(group: Any) -> None:
    admin, _, conversation = group
    root = await send(admin, conversation["id"], "root")
    r = await admin.get(
        f"/api/v1/messages/{root['id']}/thread", params={"after": cursor("seq|" + "9" * 30)}
    )
    assert named_fields(error_of(r, 422, "invalid_cursor")) == {"after"}


# --- catch-up -------------------------------------------------------------------------------


async def events_after(person: Person, conversation: dict[str, Any], **params: Any) -> Any:
    r = await person.get(events_url(conversation), params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def test_catch_up_returns_exactly_the_events_after_a_seq(
    directory: Directory, group: Any
) -> None:
    admin, bob, conversation = group
    carol = await directory.colleague(admin, "Carol")
    await send(admin, conversation["id"], "one")
    await admin.patch(f"/api/v1/conversations/{conversation['id']}", json={"title": "Renamed"})
    await admin.post(
        f"/api/v1/conversations/{conversation['id']}/members", json={"user_ids": [carol.id]}
    )
    await send(bob, conversation["id"], "two")
    await bob.post(f"/api/v1/conversations/{conversation['id']}/read", json={"seq": 5})
    await carol.delete(f"/api/v1/conversations/{conversation['id']}/members/{carol.id}")

    everything = await events_after(bob, conversation)
    kinds = [e["kind"] for e in everything["events"]]
    assert kinds == [
        "member.added",
        "message.created",
        "conversation.updated",
        "member.added",
        "message.created",
        "receipt.updated",
        "member.removed",
    ]
    assert [e["seq"] for e in everything["events"]] == list(range(1, 8))
    assert everything["last_seq"] == 7
    assert everything["has_more"] is False
    for event in everything["events"]:
        assert set(event) == {"conversation_id", "seq", "kind", "data", "created_at"}
        assert event["conversation_id"] == conversation["id"]

    for n in range(8):
        after = await events_after(bob, conversation, after_seq=n)
        assert after["events"] == everything["events"][n:]
        assert after["last_seq"] == 7
    beyond = await events_after(bob, conversation, after_seq=1000)
    assert (beyond["events"], beyond["last_seq"], beyond["has_more"]) == ([], 7, False)


async def test_catch_up_pages_with_limit(group: Any) -> None:
    admin, bob, conversation = group
    for i in range(9):
        await send(admin, conversation["id"], f"m{i}")
    seqs: list[int] = []
    after_seq = 0
    while True:
        page = await events_after(bob, conversation, after_seq=after_seq, limit=4)
        assert len(page["events"]) <= 4
        seqs += [e["seq"] for e in page["events"]]
        if not page["has_more"]:
            break
        after_seq = page["events"][-1]["seq"]
    assert seqs == list(range(1, 11))


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"after_seq": -1}, "after_seq"),
        ({"after_seq": "x"}, "after_seq"),
        ({"after_seq": 10**30}, "after_seq"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
    ],
)
async def test_catch_up_refuses_bad_parameters(
    group: Any, params: dict[str, Any], field: str
) -> None:
    admin, _, conversation = group
    r = await admin.get(events_url(conversation), params=params)
    assert named_fields(error_of(r, 422)) == {field}


async def test_a_page_shows_each_message_its_own_files_and_reactions(group: Any) -> None:
    """History looks files and reactions up only for messages that have some."""
    admin, bob, conversation = group
    cid = conversation["id"]
    bare = await send(admin, cid, "nothing attached")
    picture = await uploaded(admin, cid, png_bytes(), filename="p.png", claimed_type="image/png")
    with_file = (await send_files(admin, cid, [picture["id"]], "a picture")).json()
    reacted = await send(admin, cid, "react to me")
    for person, emoji in ((bob, "👍"), (admin, "👍"), (bob, "🎉")):
        r = await person.put(f"/api/v1/messages/{reacted['id']}/reactions/{emoji}")
        assert r.status_code == 204
    gone = await send(admin, cid, "deleted, with a reaction")
    await bob.put(f"/api/v1/messages/{gone['id']}/reactions/👍")
    await admin.delete(f"/api/v1/messages/{gone['id']}")

    page = (await bob.get(f"/api/v1/conversations/{cid}/messages")).json()["messages"]
    found = {m["id"]: ([a["id"] for a in m["attachments"]], m["reactions"]) for m in page}
    assert found == {
        bare["id"]: ([], []),
        with_file["id"]: ([picture["id"]], []),
        reacted["id"]: (
            [],
            [{"emoji": "👍", "count": 2, "me": True}, {"emoji": "🎉", "count": 1, "me": True}],
        ),
        gone["id"]: ([], []),
    }
    one = (await bob.get(f"/api/v1/messages/{with_file['id']}")).json()
    assert one["attachments"][0]["url"]
