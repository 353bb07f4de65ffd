"""Concurrent writers: seqs stay contiguous and unique, idempotent creates stay single, and
racing changes stay consistent, on both databases.

The 50 sends go through a real server process over real HTTP. The races between two
particular writes run in-process, where their transactions overlap most reliably."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.support import Directory, Person

pytestmark = pytest.mark.anyio

SENDS = 50


async def all_events(person: Person, conversation_id: str) -> dict[str, Any]:
    r = await person.get(f"/api/v1/conversations/{conversation_id}/events", params={"limit": 1000})
    assert r.status_code == 200, r.text
    page: dict[str, Any] = r.json()
    assert page["has_more"] is False
    return page


async def test_concurrent_sends_take_contiguous_seqs(live: Directory) -> None:
    admin = await live.company()
    people = [admin] + [await live.colleague(admin, f"P{i}") for i in range(4)]
    conversation = await live.conversation(admin, "group", people[1:], "busy")
    cid = conversation["id"]

    responses = await asyncio.gather(
        *(
            people[i % len(people)].post(
                f"/api/v1/conversations/{cid}/messages", json={"body": f"m{i}"}
            )
            for i in range(SENDS)
        )
    )
    assert [r.status_code for r in responses] == [201] * SENDS, [r.text for r in responses]
    seqs = sorted(r.json()["seq"] for r in responses)
    # seq 1 is the conversation's own member.added; the messages take exactly what follows.
    assert seqs == list(range(2, SENDS + 2))

    log = await all_events(admin, cid)
    assert [e["seq"] for e in log["events"]] == list(range(1, SENDS + 2))
    assert log["last_seq"] == SENDS + 1
    by_seq = {e["seq"]: e for e in log["events"]}
    for r in responses:
        event = by_seq[r.json()["seq"]]
        assert (event["kind"], event["data"]["id"]) == ("message.created", r.json()["id"])

    history = await admin.get(f"/api/v1/conversations/{cid}/messages", params={"limit": 100})
    assert sorted(m["body"] for m in history.json()["messages"]) == sorted(
        f"m{i}" for i in range(SENDS)
    )


async def test_concurrent_mixed_writes_keep_one_gapless_log(directory: Directory) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    carol = await directory.colleague(admin, "Carol")
    conversation = await directory.conversation(admin, "group", [bob], "mixed")
    cid = conversation["id"]
    base = f"/api/v1/conversations/{cid}"

    writes = [admin.post(f"{base}/messages", json={"body": f"a{i}"}) for i in range(15)]
    writes += [bob.post(f"{base}/messages", json={"body": f"b{i}"}) for i in range(15)]
    writes += [bob.post(f"{base}/read", json={"seq": n}) for n in (3, 6, 9)]
    writes += [admin.patch(base, json={"title": f"t{i}"}) for i in range(3)]
    writes += [admin.post(f"{base}/members", json={"user_ids": [carol.id]})]
    responses = await asyncio.gather(*writes)
    assert all(r.status_code < 300 for r in responses), [r.text for r in responses]

    log = await all_events(admin, cid)
    seqs = [e["seq"] for e in log["events"]]
    assert seqs == list(range(1, len(seqs) + 1))
    assert log["last_seq"] == seqs[-1]
    kinds = [e["kind"] for e in log["events"]]
    assert kinds.count("message.created") == 30
    assert kinds.count("member.added") == 2


async def test_a_retried_send_racing_itself_is_stored_once(directory: Directory) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    conversation = await directory.conversation(admin, "direct", [bob])
    url = f"/api/v1/conversations/{conversation['id']}/messages"

    responses = await asyncio.gather(
        *(admin.post(url, json={"body": "once", "client_msg_id": "retry-1"}) for _ in range(10))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 9 + [201], [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    history = (await bob.get(url)).json()["messages"]
    assert [m["body"] for m in history] == ["once"]
    log = await all_events(bob, conversation["id"])
    assert [e["seq"] for e in log["events"]] == [1, 2]


async def test_both_people_opening_their_direct_at_once_get_one(directory: Directory) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    responses = await asyncio.gather(
        *(
            person.post("/api/v1/conversations", json={"kind": "direct", "member_ids": [other.id]})
            for person, other in [(admin, bob), (bob, admin)] * 5
        )
    )
    assert sorted(r.status_code for r in responses) == [200] * 9 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    listed = (await admin.get("/api/v1/conversations")).json()["conversations"]
    assert len(listed) == 1


async def test_concurrent_read_receipts_only_move_forward(directory: Directory) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    conversation = await directory.conversation(admin, "group", [bob], "receipts")
    cid = conversation["id"]
    for i in range(20):
        await admin.post(f"/api/v1/conversations/{cid}/messages", json={"body": f"m{i}"})
    targets = [seq for pair in zip(range(21, 1, -1), range(2, 22), strict=True) for seq in pair]
    responses = await asyncio.gather(
        *(bob.post(f"/api/v1/conversations/{cid}/read", json={"seq": s}) for s in targets)
    )
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]

    me = (await bob.get(f"/api/v1/conversations/{cid}")).json()
    assert me["last_read_seq"] == 21
    log = await all_events(admin, cid)
    marks = [e["data"]["last_read_seq"] for e in log["events"] if e["kind"] == "receipt.updated"]
    # Each logged receipt moved the marker forward; none took it back.
    assert marks == sorted(set(marks))
    assert marks[-1] == 21


async def test_joining_a_channel_from_two_tabs_at_once_adds_once(directory: Directory) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    carol = await directory.colleague(admin, "Carol")
    channel = await directory.conversation(admin, "channel", [], "general")
    url = f"/api/v1/conversations/{channel['id']}/members"
    responses = await asyncio.gather(
        *(bob.post(url, json={"user_ids": [bob.id]}) for _ in range(5)),
        *(admin.post(url, json={"user_ids": [carol.id, bob.id]}) for _ in range(5)),
    )
    assert [r.status_code for r in responses] == [200] * 10, [r.text for r in responses]
    log = await all_events(admin, channel["id"])
    added = [u for e in log["events"] if e["kind"] == "member.added" for u in e["data"]["user_ids"]]
    assert sorted(added) == sorted([admin.id, bob.id, carol.id])
