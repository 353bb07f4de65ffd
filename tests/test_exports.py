"""Exports (docs/exports.md): `hallway export`, the admin's and a person's exports built in
the background and fetched through signed links, daily archives, and `hallway import
hallway` round-tripping a company."""

from __future__ import annotations

import asyncio
import hashlib
import io
import subprocess
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from hallway.domain import export_jobs
from hallway.domain.actor import Actor
from hallway.domain.day_archives import day_keys, read_object, write_day_archive
from hallway.domain.export_import import imported_company_id
from hallway.files.links import FileLinks
from hallway.store import tables as t
from hallway.store.database import Database
from tests.export_support import (
    DELETED_SECRET,
    EDITED_AWAY,
    History,
    company_view,
    company_with_history,
    read_export,
    records_of,
)
from tests.files_support import storage_of
from tests.support import Directory, Person, company_rows, error_of, eventually
from tests.test_cli import run_cli

pytestmark = pytest.mark.anyio


@pytest.fixture
async def history(directory: Directory) -> History:
    return await company_with_history(directory)


async def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`hallway …` in its own process, while this test's app goes on serving (SQLite's
    background indexing holds the write lock across turns of the event loop)."""
    return await asyncio.to_thread(run_cli, env, *args)


async def cli_export(env: dict[str, str], out: Path, *args: str) -> Any:
    result = await cli(env, "export", *args, str(out))
    assert result.returncode == 0, result.stderr
    return read_export(await asyncio.to_thread(out.read_bytes))


def assert_no_deleted_content(data: bytes) -> None:
    """Nothing of the deleted message, wherever it might hide (a zip member or the gzip'd
    records)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            content = archive.read(name)
            if name.endswith(".gz"):
                content = records_of(content).__repr__().encode()
            assert DELETED_SECRET.encode() not in content
            assert "😱".encode() not in content


async def test_cli_export_holds_the_whole_company(
    history: History, env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "company.zip"
    export = await cli_export(env, out, "--company", history.admin.company_id)
    assert export.manifest["scope"]["kind"] == "company"
    assert export.manifest["counts"] == {
        "attachments": 2,
        "conversations": 2,
        "deleted_messages": 1,
        "edits": 1,
        "files": 2,
        "messages": 7,
        "people": 3,
        "reactions": 3,
    }
    people = {p["display_name"]: p for p in export.of_type("person")}
    assert {n: (p["role"], p["state"]) for n, p in people.items()} == {
        "Exporters Admin": ("admin", "active"),
        "Bob": ("member", "active"),
        "Carol": ("member", "deactivated"),
    }
    channel = next(c for c in export.of_type("conversation") if c["id"] == history.channel_id)
    assert (channel["kind"], channel["title"]) == ("channel", "general")
    assert sorted(m["role"] for m in channel["members"]) == ["member", "member", "owner"]
    messages = {m["id"]: m for m in export.of_type("message")}
    reply = next(m for m in messages.values() if m["body"] == "glad to be here")
    assert [e["old_body"] for e in reply["edits"]] == [EDITED_AWAY]
    assert messages[reply["thread_root_id"]]["body"] == "welcome, all"
    reacted = [(r["message_id"], r["emoji"]) for r in export.of_type("reaction")]
    assert sorted(e for _, e in reacted) == ["🎉", "👍", "👍"]
    assert {m for m, _ in reacted} == {reply["thread_root_id"]}
    with_files = next(m for m in messages.values() if m["body"] == "the plan")
    for attachment in with_files["attachments"]:
        content = export.members[attachment["file"]]
        assert content == history.files[attachment["filename"]]
        assert hashlib.sha256(content).hexdigest() == attachment["sha256"]
    tombstones = [m for m in messages.values() if m["deleted"]]
    assert len(tombstones) == 1
    assert tombstones[0]["body"] == "" and tombstones[0]["edits"] == []
    assert tombstones[0]["deleted_at"] is not None
    assert_no_deleted_content(out.read_bytes())


async def test_cli_export_of_a_conversation_and_since(
    history: History, env: dict[str, str], tmp_path: Path
) -> None:
    export = await cli_export(env, tmp_path / "direct.zip", "--conversation", history.direct_id)
    assert [c["id"] for c in export.of_type("conversation")] == [history.direct_id]
    assert [m["body"] for m in export.of_type("message")] == ["a word in private", "of course"]
    tomorrow = datetime.now(UTC).date().toordinal() + 1
    later = datetime.fromordinal(tomorrow).date().isoformat()
    none_yet = await cli_export(
        env, tmp_path / "later.zip", "--company", history.admin.company_id, "--since", later
    )
    assert none_yet.of_type("message") == [] and len(none_yet.of_type("person")) == 3
    refused = await cli(env, "export", "--company", history.admin.company_id, str(tmp_path / "x"))
    assert refused.returncode == 0
    again = await cli(env, "export", "--company", history.admin.company_id, str(tmp_path / "x"))
    assert again.returncode == 2 and "exists already" in again.stderr
    unknown = await cli(env, "export", "--conversation", "nope", str(tmp_path / "y.zip"))
    assert unknown.returncode == 1 and "no conversation" in unknown.stderr


async def finished(person: Person, export_id: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        r = await person.get(f"/api/v1/exports/{export_id}")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body if body["state"] in ("done", "failed") else None

    result: dict[str, Any] = await eventually(done, timeout=60)
    return result


async def test_admin_export_runs_in_the_background_and_downloads_by_signed_link(
    history: History, client: httpx.AsyncClient, settings: Any
) -> None:
    r = await history.admin.post("/api/v1/exports", json={"scope": "company"})
    assert r.status_code == 202, r.text
    queued = r.json()
    assert queued["state"] in ("queued", "running") and queued["download_url"] is None
    done = await finished(history.admin, queued["id"])
    assert done["state"] == "done", done
    assert done["messages_written"] == done["messages_total"] == 7
    url = done["download_url"]
    download = await client.get(url)
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert int(download.headers["content-length"]) == done["size"]
    export = read_export(download.content)
    assert export.manifest["counts"]["messages"] == 7 and export.manifest["counts"]["files"] == 2
    assert_no_deleted_content(download.content)
    part = await client.get(url, headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == download.content[:10]

    signature = httpx.URL(url).params["signature"]
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    error_of(await client.get(str(httpx.URL(url).copy_set_param("signature", flipped))), 403)
    links = FileLinks.from_settings(settings)
    stale, _ = links.export_url(
        queued["id"], history.admin.company_id, time.time() - settings.file_link_ttl_seconds
    )
    error_of(await client.get(stale), 403, "link_expired")
    # A file link's signature opens no export, though it is the same key.
    file_link = links.url("file", queued["id"], history.admin.company_id, time.time())
    forged = str(httpx.URL(url).copy_merge_params(dict(httpx.URL(file_link).params)))
    error_of(await client.get(forged), 403, "invalid_link")
    nothing, _ = links.export_url(
        "00000000-0000-0000-0000-000000000000", history.admin.company_id, time.time()
    )
    error_of(await client.get(nothing), 404)


async def test_a_conversation_export_and_who_may_ask(history: History) -> None:
    r = await history.admin.post(
        "/api/v1/exports", json={"scope": "conversation", "conversation_id": history.direct_id}
    )
    assert r.status_code == 202, r.text
    done = await finished(history.admin, r.json()["id"])
    assert (done["state"], done["messages_total"]) == ("done", 2)
    error_of(await history.bob.post("/api/v1/exports", json={"scope": "company"}), 403)
    error_of(await history.bob.get(f"/api/v1/exports/{done['id']}"), 404)
    error_of(await history.admin.post("/api/v1/exports", json={"scope": "conversation"}), 422)
    missing = {"scope": "conversation", "conversation_id": "nope"}
    error_of(await history.admin.post("/api/v1/exports", json=missing), 404)
    error_of(await history.admin.post("/api/v1/exports", json={"scope": "all"}), 422)


async def test_a_person_exports_only_their_own(history: History, client: httpx.AsyncClient) -> None:
    r = await history.bob.post("/api/v1/me/export")
    assert r.status_code == 202, r.text
    done = await finished(history.bob, r.json()["id"])
    assert done["state"] == "done", done
    # Not even an admin sees a person's own export.
    error_of(await history.admin.get(f"/api/v1/exports/{done['id']}"), 404)
    export = read_export((await client.get(done["download_url"])).content)
    assert export.manifest["scope"] == {
        "kind": "person",
        "company_id": history.bob.company_id,
        "conversation_id": None,
        "user_id": history.bob.id,
        "since": None,
        "day": None,
    }
    assert [p["id"] for p in export.of_type("person")] == [history.bob.id]
    messages = export.of_type("message")
    assert {m["sender_id"] for m in messages} == {history.bob.id}
    assert sorted(m["body"] for m in messages) == [
        "a word in private",
        "glad to be here",
        "the plan",
    ]
    assert [(r["user_id"], r["emoji"]) for r in export.of_type("reaction")] == [
        (history.bob.id, "👍")
    ]
    for conversation in export.of_type("conversation"):
        assert [m["user_id"] for m in conversation["members"]] == [history.bob.id]
    assert sorted(n for n in export.members if n.startswith("files/")) == sorted(
        f"files/{a['id']}" for m in messages for a in m["attachments"]
    )
    assert len(export.members) == 4  # manifest, records, bob's two files


async def test_asking_twice_runs_once(history: History, app: FastAPI) -> None:
    ctx = app.state.ctx
    admin = Actor(history.admin.id, history.admin.company_id, "admin")
    first, created = await export_jobs.request_export(ctx, admin, "company")
    again, created_again = await export_jobs.request_export(ctx, admin, "company")
    assert (created, created_again, again["id"]) == (True, False, first["id"])
    await asyncio.gather(*(export_jobs.run_export(ctx, first["id"]) for _ in range(3)))
    done = await export_jobs.get_export(ctx, admin, first["id"])
    assert (done["state"], done["messages_written"]) == ("done", 7)
    async with ctx.db.read() as conn:
        finished_at = (
            await conn.execute(select(t.exports.c.finished_at).where(t.exports.c.id == first["id"]))
        ).scalar_one()
    await export_jobs.run_export(ctx, first["id"])
    assert (await export_jobs.get_export(ctx, admin, first["id"]))["finished_at"] == finished_at
    # Done, it is no longer the one a new request joins.
    _, created_after = await export_jobs.request_export(ctx, admin, "company")
    assert created_after


async def test_a_failed_export_says_failed(
    history: History, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = storage_of(app)

    async def refuse(key: str, source: Path, content_type: str) -> None:
        raise OSError("the disk is full")

    monkeypatch.setattr(storage, "put", refuse)
    r = await history.admin.post("/api/v1/exports", json={"scope": "company"})
    assert r.status_code == 202, r.text
    failed = await finished(history.admin, r.json()["id"])
    assert failed["state"] == "failed" and "the disk is full" in failed["error"]
    assert failed["download_url"] is None
    assert not list(storage.staging_dir.glob("export-*"))


async def test_day_archive_is_written_once_with_valid_checksums(
    history: History, app: FastAPI
) -> None:
    ctx = app.state.ctx
    storage = storage_of(app)
    company_id = history.admin.company_id
    today = datetime.now(UTC).date()
    first = await write_day_archive(ctx, company_id, today)
    assert first.written and (first.records_key, first.manifest_key) == day_keys(company_id, today)
    assert first.records_key == f"archives/{company_id}/{today.isoformat()}.jsonl.gz"
    records = await read_object(storage, first.records_key)
    assert records is not None
    name = first.records_key.rsplit("/", 1)[1]
    assert first.manifest.files[name].sha256 == hashlib.sha256(records).hexdigest()
    assert first.manifest.counts["messages"] == 7 and first.manifest.includes_files is False
    lines = records_of(records)
    assert {r["type"] for r in lines} == {"person", "conversation", "message", "reaction"}
    assert DELETED_SECRET not in repr(lines)
    assert all(a["file"] is None for m in lines if m["type"] == "message" for a in m["attachments"])

    again = await write_day_archive(ctx, company_id, today)
    assert not again.written and again.manifest == first.manifest
    assert await read_object(storage, first.records_key) == records
    # Written anew from the same messages, the records are the same bytes.
    await storage.delete([first.records_key, first.manifest_key])
    rewritten = await write_day_archive(ctx, company_id, today)
    assert rewritten.written and await read_object(storage, first.records_key) == records
    yesterday = await write_day_archive(ctx, company_id, today.fromordinal(today.toordinal() - 1))
    assert yesterday.manifest.counts.get("messages", 0) == 0


async def test_round_trip_through_import(
    history: History, env: dict[str, str], tmp_path: Path, settings: Any, app: FastAPI
) -> None:
    out = tmp_path / "company.zip"
    await cli_export(env, out, "--company", history.admin.company_id)
    imported = await cli(env, "import", "hallway", str(out), "--company", "Exporters again")
    assert imported.returncode == 0, imported.stderr
    assert "a new company" in imported.stdout
    copy_id = imported_company_id(history.admin.company_id)
    url = settings.effective_migration_database_url
    original = await company_view(url, history.admin.company_id)
    copy = await company_view(url, copy_id)
    assert copy == original
    db = Database(url)
    try:
        async with db.read() as conn:
            people = list(
                await conn.execute(select(t.users).where(t.users.c.company_id == copy_id))
            )
            in_copy = t.attachments.c.company_id == copy_id
            files = list(await conn.execute(select(t.attachments).where(in_copy)))
            name = (
                await conn.execute(select(t.companies.c.name).where(t.companies.c.id == copy_id))
            ).scalar_one()
    finally:
        await db.dispose()
    assert name == "Exporters again"
    assert all(p.password_hash is None for p in people)
    storage = storage_of(app)
    for f in files:
        assert await read_object(storage, f.storage_key) == history.files[f.filename]
    assert sum(f.thumb_key is not None for f in files) == 1  # the PNG's, made again

    before = await company_rows(url, [copy_id])
    again = await cli(env, "import", "hallway", str(out), "--company", "Another name")
    assert again.returncode == 0, again.stderr
    assert "earlier import" in again.stdout and "added nothing" in again.stdout
    assert await company_rows(url, [copy_id]) == before


async def test_import_refuses_a_damaged_export(
    history: History, env: dict[str, str], tmp_path: Path, settings: Any
) -> None:
    out = tmp_path / "company.zip"
    await cli_export(env, out, "--company", history.admin.company_id)
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(out) as source, zipfile.ZipFile(damaged, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename.startswith("files/"):
                content = content[:-1] + bytes([content[-1] ^ 1])
            target.writestr(info, content)
    result = await cli(env, "import", "hallway", str(damaged), "--company", "Broken")
    assert result.returncode == 1 and "does not match its checksum" in result.stderr
    not_zip = tmp_path / "notes.txt"
    not_zip.write_text("hello")
    result = await cli(env, "import", "hallway", str(not_zip), "--company", "Broken")
    assert result.returncode == 1 and "not a Hallway export" in result.stderr
    rows = await company_rows(
        settings.effective_migration_database_url, [imported_company_id(history.admin.company_id)]
    )
    assert rows["companies"] == []
