"""Retention (docs/retention.md): the policies admins set, and the job that erases what has
expired through the same erasure as a delete, in bounded batches, once across nodes, and
drops the log's expired events so that a resume from before them answers `resync`."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import update

from hallway.config import Settings
from hallway.domain.context import DomainContext, Event, NullPublisher
from hallway.domain.day_archives import day_keys, read_object
from hallway.domain.retention import RETENTION_LOCK_KEY, RetentionReport, run_retention
from hallway.files.storage import open_storage
from hallway.store.database import Database
from hallway.store.tables import events, messages
from hallway.store.types import utcnow
from tests.files_support import png_bytes, uploaded
from tests.support import (
    Directory,
    Person,
    ServerProcess,
    authenticated_socket,
    company_rows,
    error_of,
    named_fields,
    on_postgresql,
    send,
)
from tests.test_cli import run_cli
from tests.test_erasure import edit, messages_url, react

pytestmark = pytest.mark.anyio

OLD_WORDS = ["zebraold", "zebraedited", "wombatfile"]
OLD_EMOJI = "🦓"
NEW = "quokka fresh words"


class RecordingPublisher(NullPublisher):
    """What the job publishes, batch by batch."""

    def __init__(self) -> None:
        self.batches: list[list[Event]] = []

    async def publish(self, published: Sequence[Event]) -> None:
        self.batches.append(list(published))


@pytest.fixture
async def job(settings: Settings) -> AsyncIterator[DomainContext]:
    """A context of the job's own on the server's database and storage, as a second node
    or `hallway retention run` has."""
    db = Database(settings.effective_database_url)
    # The server's own role: under row-level security the job acts as the system.
    await db.detect_row_security()
    storage = open_storage(settings)
    await storage.start()
    try:
        yield DomainContext(
            settings=settings, db=db, storage=storage, publisher=RecordingPublisher()
        )
    finally:
        await storage.close()
        await db.dispose()


@dataclass
class Office:
    admin: Person
    bob: Person
    cid: str
    old: list[dict[str, Any]]
    new: dict[str, Any]
    file_url: str
    last_old_seq: int


async def age(settings: Settings, cid: str, upto_seq: int, days: int) -> None:
    """Make everything of the conversation up to `upto_seq` `days` old: messages and events."""
    then = utcnow() - timedelta(days=days)
    db = Database(settings.effective_migration_database_url)
    try:
        async with db.write() as conn:
            await conn.execute(
                update(messages)
                .where(messages.c.conversation_id == cid, messages.c.seq <= upto_seq)
                .values(created_at=then)
            )
            await conn.execute(
                update(events)
                .where(events.c.conversation_id == cid, events.c.seq <= upto_seq)
                .values(created_at=then)
            )
    finally:
        await db.dispose()


async def office_with_old_talk(people: Directory, settings: Settings, count: int = 3) -> Office:
    """Messages 40 days old (one with a file, one edited and reacted to), and one new."""
    admin = await people.company("Keeper")
    bob = await people.colleague(admin, "Bob")
    cid = (await people.conversation(admin, "group", [bob], "records"))["id"]
    file = await uploaded(
        bob, cid, png_bytes(), filename="wombatfile.png", claimed_type="image/png"
    )
    old = [await send(bob, cid, "zebraold with a file", attachment_ids=[file["id"]])]
    old += [await send(admin, cid, f"zebraold number {n}") for n in range(1, count)]
    await edit(admin, old[-1]["id"], "zebraedited text")
    await react(bob, old[-1]["id"], OLD_EMOJI)
    last_old_seq = int((await admin.get(messages_url(cid))).json()["last_seq"])
    await age(settings, cid, last_old_seq, days=40)
    new = await send(bob, cid, NEW)
    return Office(admin, bob, cid, old, new, old[0]["attachments"][0]["url"], last_old_seq)


async def keep_days(admin: Person, days: int | str) -> None:
    r = await admin.put("/api/v1/company/retention", json={"retention": days})
    assert r.status_code == 200, r.text


def assert_gone(text: str) -> None:
    for word in [*OLD_WORDS, OLD_EMOJI]:
        assert word not in text, f"{word!r} is still in {text[:2000]}"


# --- the policies ---------------------------------------------------------------------------


async def test_admins_set_the_company_policy_and_a_conversations_own(directory: Directory) -> None:
    admin, bob, group = await directory.team("kept")
    policy = "/api/v1/company/retention"
    own = f"/api/v1/conversations/{group['id']}/retention"
    assert (await bob.get(policy)).json() == {"retention": "forever", "archive_expired": False}
    assert (await bob.get(own)).json() == {"retention": "company", "effective": "forever"}

    error_of(await bob.put(policy, json={"retention": 30}), 403, "admin_required")
    error_of(await bob.put(own, json={"retention": 30}), 403, "admin_required")
    for refused in [0, -1, 36_501, "30", True, "never", None, 1.5]:
        r = await admin.put(policy, json={"retention": refused, "archive_expired": True})
        if refused is None:  # absent: unchanged, archive_expired alone changes
            assert r.status_code == 200, r.text
            continue
        assert named_fields(error_of(r, 422)) == {"retention"}, refused
    error_of(await admin.put(policy, json={"retention": 30, "keep": 1}), 422)
    assert (await bob.get(policy)).json() == {"retention": "forever", "archive_expired": True}

    r = await admin.put(policy, json={"retention": 30, "archive_expired": False})
    assert r.json() == {"retention": 30, "archive_expired": False}
    assert (await bob.get(own)).json() == {"retention": "company", "effective": 30}
    assert (await admin.put(own, json={"retention": "forever"})).json() == {
        "retention": "forever",
        "effective": "forever",
    }
    assert (await admin.put(own, json={"retention": 7})).json() == {
        "retention": 7,
        "effective": 7,
    }
    error_of(await admin.put(own, json={"retention": "never"}), 422)
    assert (await admin.put(own, json={"retention": "company"})).json() == {
        "retention": "company",
        "effective": 30,
    }
    # Another company's conversation is nobody's business here.
    stranger = await directory.company("Other")
    error_of(await stranger.get(own), 404)
    error_of(await stranger.put(own, json={"retention": 1}), 404)


# --- the job --------------------------------------------------------------------------------


async def test_a_dry_run_counts_what_the_run_then_erases_everywhere(
    directory: Directory, settings: Settings, job: DomainContext
) -> None:
    office = await office_with_old_talk(directory, settings)
    await keep_days(office.admin, 30)

    dry = await run_retention(job, dry_run=True)
    assert (dry.messages, dry.files, dry.events) == (3, 1, office.last_old_seq)
    history = (await office.bob.get(messages_url(office.cid))).text
    assert "zebraedited" in history  # a dry run changes nothing

    done = await run_retention(job)
    assert (done.messages, done.files, done.events) == (dry.messages, dry.files, dry.events)
    assert [c.conversation_id for c in done.conversations] == [office.cid]

    # Every read: history shows tombstones, search finds nothing, the file is gone.
    for person in (office.admin, office.bob):
        page = (await person.get(messages_url(office.cid))).json()
        by_id = {m["id"]: m for m in page["messages"]}
        for message in office.old:
            shown = by_id[message["id"]]
            assert shown["deleted_at"] is not None and shown["deleted_by"] is None
            assert shown["body"] == "" and shown["attachments"] == shown["reactions"] == []
        assert by_id[office.new["id"]]["body"] == NEW
        assert_gone(str(page))
        for word in OLD_WORDS:
            found = (await person.get("/api/v1/search", params={"q": word})).json()
            assert found["results"] == []
    error_of(await office.bob.client.get(office.file_url), 404)
    rows = await company_rows(settings.effective_migration_database_url, [office.admin.company_id])
    assert_gone(repr(rows))
    assert rows["message_edits"] == [] and rows["reactions"] == []

    # The log: the expired stretch is gone; what is left starts after it.
    events_url = f"/api/v1/conversations/{office.cid}/events"
    error_of(await office.bob.get(events_url, params={"after_seq": 0}), 410, "resync")
    error_of(await office.bob.get(events_url, params={"after_seq": 1}), 410, "resync")
    kept = (await office.bob.get(events_url, params={"after_seq": office.last_old_seq})).json()
    kinds = [e["kind"] for e in kept["events"]]
    assert kinds == ["message.created", *["message.deleted"] * 3]
    assert [e["seq"] for e in kept["events"]] == list(
        range(office.last_old_seq + 1, kept["last_seq"] + 1)
    )
    assert_gone(str(kept))

    again = await run_retention(job)
    assert (again.messages, again.events, again.files) == (0, 0, 0)


async def test_a_company_that_asked_gets_its_days_archived_before_they_are_erased(
    directory: Directory, settings: Settings, job: DomainContext
) -> None:
    office = await office_with_old_talk(directory, settings)
    r = await office.admin.put(
        "/api/v1/company/retention", json={"retention": 30, "archive_expired": True}
    )
    assert r.status_code == 200, r.text
    old_day = (utcnow() - timedelta(days=40)).date()
    records_key, manifest_key = day_keys(office.admin.company_id, old_day)
    assert await read_object(job.storage, manifest_key) is None

    report = await run_retention(job)
    assert report.messages == 3
    assert report.archived_days == {(office.admin.company_id, old_day)}
    archived = await read_object(job.storage, records_key)
    assert archived is not None and await read_object(job.storage, manifest_key) is not None
    # The archive holds what the erasure then took from everywhere else.
    text = gzip.decompress(archived).decode()
    assert "zebraold number 1" in text and "zebraedited text" in text
    history = (await office.bob.get(messages_url(office.cid))).text
    assert_gone(history)


async def test_batches_are_bounded_and_published_as_they_commit(
    directory: Directory, settings: Settings, job: DomainContext
) -> None:
    office = await office_with_old_talk(directory, settings, count=5)
    await keep_days(office.admin, 30)
    report = await run_retention(job, batch=2)
    assert report.messages == 5
    assert isinstance(job.publisher, RecordingPublisher)
    sizes = [len(batch) for batch in job.publisher.batches]
    assert sizes == [2, 2, 1]
    assert all(e.kind == "message.deleted" for batch in job.publisher.batches for e in batch)


async def test_a_conversations_own_policy_overrides_the_company(
    directory: Directory, settings: Settings, job: DomainContext
) -> None:
    office = await office_with_old_talk(directory, settings)
    other = (await directory.conversation(office.admin, "group", [office.bob], "forever"))["id"]
    await send(office.bob, other, "zebraold elsewhere")
    await age(settings, other, 1, days=40)
    await keep_days(office.admin, 30)
    r = await office.admin.put(
        f"/api/v1/conversations/{other}/retention", json={"retention": "forever"}
    )
    assert r.status_code == 200, r.text
    r = await office.admin.put(
        f"/api/v1/conversations/{office.cid}/retention", json={"retention": 60}
    )
    assert r.status_code == 200, r.text
    assert (await run_retention(job)).messages == 0  # 40 days old: kept for 60

    r = await office.admin.put(
        f"/api/v1/conversations/{office.cid}/retention", json={"retention": 10}
    )
    assert r.status_code == 200, r.text
    report = await run_retention(job)
    assert [(c.conversation_id, c.messages) for c in report.conversations] == [(office.cid, 3)]
    kept = (await office.bob.get(messages_url(other))).json()["messages"]
    assert [m["body"] for m in kept] == ["zebraold elsewhere"]


@on_postgresql
async def test_two_nodes_at_once_do_the_work_once(
    directory: Directory, settings: Settings, job: DomainContext
) -> None:
    office = await office_with_old_talk(directory, settings, count=4)
    await keep_days(office.admin, 30)
    second_db = Database(settings.effective_database_url)
    await second_db.detect_row_security()
    second = DomainContext(settings=settings, db=second_db, storage=job.storage)
    try:
        # While one node holds the job, another finds it taken and does nothing.
        async with job.db.exclusive_job(RETENTION_LOCK_KEY) as mine:
            assert mine
            skipped = await run_retention(second)
        assert not skipped.ran and skipped.messages == 0
        reports: tuple[RetentionReport, ...] = await asyncio.gather(
            run_retention(job, batch=1), run_retention(second, batch=1)
        )
    finally:
        await second_db.dispose()
    assert sum(r.messages for r in reports) == 4
    assert sorted(r.ran for r in reports) in ([False, True], [True, True])


async def test_a_resume_from_before_the_kept_log_gets_resync(
    server: ServerProcess, live: Directory, settings: Settings, env: dict[str, str]
) -> None:
    office = await office_with_old_talk(live, settings)
    await keep_days(office.admin, 30)
    dry = run_cli(env, "retention", "run", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would erase 3 messages and 1 files" in dry.stdout
    done = run_cli(env, "retention", "run")
    assert done.returncode == 0, done.stderr
    assert "erased 3 messages and 1 files" in done.stdout

    ws = await authenticated_socket(server, office.bob)
    try:
        for after_seq in (0, office.last_old_seq - 1):
            await ws.send(
                orjson.dumps(
                    {"type": "subscribe", "conversation_id": office.cid, "after_seq": after_seq}
                ).decode()
            )
            frames: list[dict[str, Any]] = []
            while not frames or frames[-1]["type"] not in ("resync", "event"):
                frame = orjson.loads(await asyncio.wait_for(ws.recv(), 15))
                if frame["type"] in ("subscribed", "resync", "event"):
                    frames.append(frame)
            assert [f["type"] for f in frames] == ["subscribed", "resync"]
            await ws.send(
                orjson.dumps({"type": "unsubscribe", "conversation_id": office.cid}).decode()
            )
        # From what the log keeps, the replay is whole.
        await ws.send(
            orjson.dumps(
                {
                    "type": "subscribe",
                    "conversation_id": office.cid,
                    "after_seq": office.last_old_seq,
                }
            ).decode()
        )
        replayed: list[int] = []
        while len(replayed) < 4:
            frame = orjson.loads(await asyncio.wait_for(ws.recv(), 15))
            assert frame["type"] != "resync"
            if frame["type"] == "event":
                replayed.append(frame["seq"])
        assert replayed == list(range(office.last_old_seq + 1, office.last_old_seq + 5))
    finally:
        await ws.close()
