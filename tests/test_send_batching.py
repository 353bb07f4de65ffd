"""Natural batching of writes (hallway.store.batching), PostgreSQL's sends that queue
behind each other in one conversation, stored by one statement, and a send committed
before it is published."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from hallway.domain import message_send
from hallway.domain.actor import Actor
from hallway.domain.context import DomainContext, Event
from hallway.domain.errors import NotFound
from hallway.domain.rate_limits import RateLimits
from hallway.store.batching import NaturalBatcher
from hallway.store.tables import events
from tests.support import Directory, Person, on_postgresql

pytestmark = pytest.mark.anyio

MISSING = "00000000-0000-0000-0000-000000000000"


class Recorder:
    """Runs items as they come: alone, or in batches it writes down."""

    def __init__(self) -> None:
        self.alone: list[str] = []
        self.batches: list[list[str]] = []
        self.gate = asyncio.Event()  # the lone item waits here until the test opens it

    async def run_one(self, item: str) -> str:
        self.alone.append(item)
        await self.gate.wait()
        if item.startswith("fail"):
            raise ValueError(item)
        return item.upper()

    async def run_batch(self, items: Sequence[str]) -> list[str | Exception]:
        self.batches.append(list(items))
        await asyncio.sleep(0)
        if "sink" in items:
            raise RuntimeError("the batch failed")
        return [ValueError(item) if item.startswith("fail") else item.upper() for item in items]


async def submit_all(
    batcher: NaturalBatcher[str, str], recorder: Recorder, items: list[str]
) -> list[asyncio.Task[str]]:
    """One task per item, each submitted in turn while the first still runs."""
    tasks = []
    for item in items:
        tasks.append(
            asyncio.create_task(batcher.submit("k", item, recorder.run_one, recorder.run_batch))
        )
        await asyncio.sleep(0)
    return tasks


async def test_a_lone_write_runs_by_itself_at_once() -> None:
    batcher: NaturalBatcher[str, str] = NaturalBatcher()
    recorder = Recorder()
    recorder.gate.set()
    assert await batcher.submit("k", "a", recorder.run_one, recorder.run_batch) == "A"
    assert await batcher.submit("k", "b", recorder.run_one, recorder.run_batch) == "B"
    assert (recorder.alone, recorder.batches) == (["a", "b"], [])


async def test_writes_that_queue_run_as_batches_in_order() -> None:
    batcher: NaturalBatcher[str, str] = NaturalBatcher(max_batch=3)
    recorder = Recorder()
    tasks = await submit_all(batcher, recorder, list("abcdef"))
    other = asyncio.create_task(batcher.submit("other", "z", recorder.run_one, recorder.run_batch))
    await asyncio.sleep(0)
    assert recorder.alone == ["a", "z"]  # another key does not wait for this one
    recorder.gate.set()
    assert await asyncio.gather(*tasks, other) == list("ABCDEFZ")
    assert recorder.batches == [["b", "c", "d"], ["e", "f"]]
    # The lane is gone once it is idle: the next write runs alone again.
    assert await batcher.submit("k", "g", recorder.run_one, recorder.run_batch) == "G"
    assert recorder.alone[-1] == "g"


async def test_each_write_gets_its_own_outcome() -> None:
    batcher: NaturalBatcher[str, str] = NaturalBatcher()
    recorder = Recorder()
    tasks = await submit_all(batcher, recorder, ["fail-first", "b", "fail-c", "d"])
    recorder.gate.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert [str(o) for o in outcomes] == ["fail-first", "B", "fail-c", "D"]
    assert [type(o) for o in outcomes] == [ValueError, str, ValueError, str]
    assert recorder.batches == [["b", "fail-c", "d"]]  # the first one's failure held no one


async def test_a_failed_batch_fails_each_of_its_writes_and_no_other() -> None:
    batcher: NaturalBatcher[str, str] = NaturalBatcher(max_batch=2)
    recorder = Recorder()
    tasks = await submit_all(batcher, recorder, ["a", "b", "sink", "c"])
    recorder.gate.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert outcomes[0] == "A" and outcomes[3] == "C"
    assert [str(o) for o in outcomes[1:3]] == ["the batch failed"] * 2
    assert recorder.batches == [["b", "sink"], ["c"]]


async def test_the_next_batch_starts_before_the_callers_of_the_last_one_go_on() -> None:
    """A batch ends at its commit, and the key's next batch is on its way before the
    batch's writes go on to publish. A lone write's caller goes on at once (a send then
    yields one turn before it publishes: message_send.publish_sent)."""
    batcher: NaturalBatcher[str, str] = NaturalBatcher(max_batch=2)
    order: list[str] = []
    gate = asyncio.Event()

    async def run_one(item: str) -> str:
        await gate.wait()
        return item

    async def run_batch(items: Sequence[str]) -> list[str | Exception]:
        order.append("batch " + "".join(items))
        await asyncio.sleep(0)
        return list(items)

    async def write(item: str) -> None:
        order.append("went on " + await batcher.submit("k", item, run_one, run_batch))

    tasks = []
    for item in "abcd":
        tasks.append(asyncio.create_task(write(item)))
        await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(*tasks)
    assert order == [
        "went on a",
        "batch bc",
        "batch d",
        "went on b",
        "went on c",
        "went on d",
    ]


async def test_a_write_cancelled_while_it_waits_is_left_out() -> None:
    batcher: NaturalBatcher[str, str] = NaturalBatcher()
    recorder = Recorder()
    tasks = await submit_all(batcher, recorder, list("abc"))
    tasks[1].cancel()
    recorder.gate.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert outcomes[0] == "A" and outcomes[2] == "C"
    assert isinstance(outcomes[1], asyncio.CancelledError)
    assert recorder.batches == [["c"]]


# The sends' batches are PostgreSQL's: on SQLite a send runs from start to commit without
# giving the event loop up, so no other send can queue behind it.


class Published:
    """The domain's publisher, writing down what it was handed."""

    def __init__(self) -> None:
        self.calls: list[list[Event]] = []

    async def publish(self, events: Sequence[Event]) -> None:
        self.calls.append(list(events))

    async def sessions_ended(self, user_id: str, session_ids: Sequence[str] | None) -> None:
        return None

    async def to_person(self, user_id: str, frame: dict[str, Any]) -> None:
        return None

    async def to_company(self, company_id: str, frame: dict[str, Any]) -> None:
        return None


def actor(person: Person) -> Actor:
    return Actor(person.id, person.company_id, "admin" if person.role == "admin" else "member")


async def send_together(
    ctx: DomainContext, cid: str, sends: list[tuple[Person, str | None]]
) -> list[Any]:
    """The sends started in one go: the first runs alone, the rest queue behind it."""
    outcomes: list[Any] = await asyncio.gather(
        *(
            message_send.send_message(
                ctx, actor(person), cid, body=f"m{k}", client_msg_id=client_msg_id
            )
            for k, (person, client_msg_id) in enumerate(sends)
        ),
        return_exceptions=True,
    )
    return outcomes


async def event_log(person: Person, cid: str) -> list[dict[str, Any]]:
    r = await person.get(f"/api/v1/conversations/{cid}/events", params={"limit": 1000})
    assert r.status_code == 200, r.text
    events: list[dict[str, Any]] = r.json()["events"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    return events


@dataclass
class Team:
    """The app's domain context, and a group of the company's admin and Bob."""

    ctx: DomainContext
    admin: Person
    bob: Person
    cid: str


@pytest.fixture
async def team(app: FastAPI, directory: Directory) -> Team:
    admin, bob, conversation = await directory.team()
    # Sends started in one go reach the batcher in the order they were started only while
    # nothing before it waits: a send's count in Redis would (tests/test_limits.py has the
    # limits' own tests).
    await app.state.ctx.rate_limits.close()
    app.state.ctx.rate_limits = RateLimits.off()
    return Team(app.state.ctx, admin, bob, conversation["id"])


@on_postgresql
async def test_sends_that_queue_are_stored_by_one_statement(team: Team) -> None:
    ctx, admin, bob, cid = team.ctx, team.admin, team.bob, team.cid
    published = ctx.publisher = Published()

    outcomes = await send_together(
        ctx, cid, [(admin, None), (bob, "b1"), (admin, "a2"), (bob, None)]
    )

    messages = [message for message, created in outcomes if created]
    assert len(messages) == 4
    # seq 1 is the conversation's member.added; the sends take what follows, in order.
    assert [m["seq"] for m in messages] == [2, 3, 4, 5]
    assert [m["body"] for m in messages] == ["m0", "m1", "m2", "m3"]
    assert [m["sender_id"] for m in messages] == [admin.id, bob.id, admin.id, bob.id]
    assert [m["created_at"] for m in messages] == sorted(m["created_at"] for m in messages)
    # The three that queued were one transaction (PostgreSQL's xmin: the transaction that
    # wrote the row), the first another.
    async with ctx.db.read() as conn:
        writers = await conn.execute(
            text("SELECT xmin::text FROM messages WHERE conversation_id = :cid ORDER BY seq"),
            {"cid": cid},
        )
        transactions = [row[0] for row in writers]
    assert transactions[1] == transactions[2] == transactions[3] != transactions[0]

    log = await event_log(admin, cid)
    for message, event in zip(messages, log[1:], strict=True):
        assert event["kind"] == "message.created"
        assert event["data"] == {
            **message,
            "created_at": message["created_at"].isoformat().replace("+00:00", "Z"),
        }
    assert [[e.seq for e in call] for call in published.calls] == [[2], [3], [4], [5]]
    history = await bob.get(f"/api/v1/conversations/{cid}/messages")
    assert [m["body"] for m in history.json()["messages"]] == ["m0", "m1", "m2", "m3"]
    # Each event names its message, alone or in a batch: erasing the message finds it.
    async with ctx.db.read() as conn:
        logged = await conn.execute(
            select(events.c.seq, events.c.message_id).where(events.c.conversation_id == cid)
        )
        named = {r.seq: r.message_id for r in logged}
    assert [named[m["seq"]] for m in messages] == [m["id"] for m in messages]


@on_postgresql
async def test_a_sender_outside_the_conversation_is_refused_alone(
    team: Team, directory: Directory
) -> None:
    admin, bob, cid = team.admin, team.bob, team.cid
    carol = await directory.colleague(admin, "Carol")  # same company, not in the group

    outcomes = await send_together(
        team.ctx, cid, [(admin, None), (bob, None), (carol, "c"), (bob, None)]
    )

    assert isinstance(outcomes[2], NotFound)
    assert [outcomes[k][0]["seq"] for k in (0, 1, 3)] == [2, 3, 4]
    assert [e["data"]["body"] for e in (await event_log(admin, cid))[1:]] == ["m0", "m1", "m3"]


@on_postgresql
async def test_a_repeated_client_msg_id_in_a_batch_answers_the_original(team: Team) -> None:
    ctx, admin, bob, cid = team.ctx, team.admin, team.bob, team.cid
    earlier, _ = await message_send.send_message(
        ctx, actor(bob), cid, body="earlier", client_msg_id="used"
    )

    outcomes = await send_together(
        ctx, cid, [(admin, None), (admin, "twice"), (admin, "twice"), (bob, "used"), (bob, None)]
    )

    created = [created for _, created in outcomes]
    assert created == [True, True, False, False, True]
    assert outcomes[2][0] == outcomes[1][0]
    assert outcomes[3][0]["id"] == earlier["id"]
    assert [outcomes[k][0]["seq"] for k in (0, 1, 4)] == [3, 4, 5]
    log = await event_log(admin, cid)
    assert [e["data"]["body"] for e in log[1:]] == ["earlier", "m0", "m1", "m4"]


async def test_a_stored_send_is_committed_and_published_only_when_asked(team: Team) -> None:
    """What a socket's sends rely on (hallway/api/realtime.py): store_message returns
    once the message is committed, and nothing is published before publish_sent."""
    ctx, admin, bob, cid = team.ctx, team.admin, team.bob, team.cid
    published = ctx.publisher = Published()

    plain = await message_send.store_message(
        ctx, actor(admin), cid, body="plain", client_msg_id="p"
    )
    reply = await message_send.store_message(
        ctx, actor(admin), cid, body="reply", thread_root_id=plain.message["id"]
    )
    assert published.calls == []
    # A reply shows in its thread, not in the conversation's window.
    history = await bob.get(f"/api/v1/conversations/{cid}/messages")
    assert [m["body"] for m in history.json()["messages"]] == ["plain"]
    thread = await bob.get(f"/api/v1/conversations/{cid}/threads/{plain.message['id']}/messages")
    assert [m["body"] for m in thread.json()["messages"]] == ["reply"]

    await message_send.publish_sent(ctx, plain)
    await message_send.publish_sent(ctx, reply)
    assert [[(e.kind, e.data.get("id")) for e in call] for call in published.calls] == [
        [("message.created", plain.message["id"])],
        [("message.created", reply.message["id"]), ("thread.updated", None)],
    ]

    # A repeat writes nothing and has nothing to publish.
    repeat = await message_send.store_message(
        ctx, actor(admin), cid, body="again", client_msg_id="p"
    )
    assert (repeat.message["id"], repeat.created, repeat.events) == (plain.message["id"], False, [])
    await message_send.publish_sent(ctx, repeat)
    assert len(published.calls) == 2
    with pytest.raises(NotFound):
        await message_send.store_message(ctx, actor(admin), MISSING, body="nowhere")


@on_postgresql
async def test_the_next_send_started_at_commit_is_on_its_way_during_the_publish(
    team: Team,
) -> None:
    """A send started once the last one is stored has begun (and waits on its statement)
    by the time the last one's publish runs, and is stored after it."""
    ctx, admin, cid = team.ctx, team.admin, team.cid
    second_send = message_send.send_message(ctx, actor(admin), cid, body="second")
    states_at_publish: list[str] = []

    class Watching(Published):
        async def publish(self, events: Sequence[Event]) -> None:
            states_at_publish.append(inspect.getcoroutinestate(second_send))
            await super().publish(events)

    published = ctx.publisher = Watching()
    first = await message_send.store_message(ctx, actor(admin), cid, body="first")
    started = asyncio.create_task(second_send)
    await message_send.publish_sent(ctx, first)
    second, _ = await started
    assert states_at_publish[0] == inspect.CORO_SUSPENDED
    assert second["seq"] == first.message["seq"] + 1
    assert [[e.seq for e in call] for call in published.calls] == [
        [first.message["seq"]],
        [second["seq"]],
    ]
