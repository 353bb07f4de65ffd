"""`hallway backup` while people send, and `hallway restore` into a new deployment that serves
what the backup holds: every message acknowledged before the backup began, in an unbroken
seq, and the files."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.files_support import send_files, uploaded
from tests.support import (
    TEST_DATABASE_URL,
    Directory,
    Person,
    ServerProcess,
    create_run_database,
    drop_run_database,
    eventually,
    run_database_url,
)
from tests.test_cli import run_cli

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse battery"
ATTACHED = b"the quarterly figures, attached\n" * 100


async def events_of(person: Person, conversation_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while True:
        after = events[-1]["seq"] if events else 0
        r = await person.get(
            f"/api/v1/conversations/{conversation_id}/events",
            params={"after_seq": after, "limit": 1000},
        )
        assert r.status_code == 200, r.text
        events += r.json()["events"]
        if not r.json()["has_more"]:
            return events


async def oldest_message(person: Person, conversation_id: str) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": 100}
    while True:
        r = await person.get(f"/api/v1/conversations/{conversation_id}/messages", params=params)
        assert r.status_code == 200, r.text
        if not r.json()["has_more"]:
            first: dict[str, Any] = r.json()["messages"][0]
            return first
        params["before"] = r.json()["next_cursor"]


@pytest.fixture
async def restored_env(
    env: dict[str, str], stack: str, tmp_path: Path
) -> AsyncIterator[dict[str, str]]:
    """Settings of a second, empty deployment to restore into."""
    data_dir = tmp_path / "restored"
    target = {**env, "HALLWAY_DATA_DIR": str(data_dir)}
    if stack == "sqlite":
        target["HALLWAY_DATABASE_URL"] = f"sqlite:///{data_dir / 'hallway.db'}"
        yield target
        return
    assert TEST_DATABASE_URL
    name = f"{env['HALLWAY_DATABASE_URL'].rsplit('/', 1)[1]}_restored"
    await create_run_database(TEST_DATABASE_URL, name)
    # The new database's owner both migrates and serves it (no app role of its own).
    target["HALLWAY_DATABASE_URL"] = run_database_url(TEST_DATABASE_URL, name)
    target["HALLWAY_MIGRATION_DATABASE_URL"] = target["HALLWAY_DATABASE_URL"]
    try:
        yield target
    finally:
        await drop_run_database(TEST_DATABASE_URL, name)


async def test_a_backup_taken_while_people_send_restores_to_a_server_that_serves_it(
    env: dict[str, str],
    restored_env: dict[str, str],
    start_server: Callable[..., ServerProcess],
    tmp_path: Path,
) -> None:
    folder = tmp_path / "backup-1"
    server = start_server()
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        admin, _bob, conversation = await Directory(http).team()
        cid = conversation["id"]
        attachment = await uploaded(admin, cid, ATTACHED, filename="figures.txt")
        assert (await send_files(admin, cid, [attachment["id"]], "see attached")).status_code == 201

        acknowledged: list[str] = []
        stop = asyncio.Event()

        async def keep_sending() -> None:
            while not stop.is_set():
                body = f"message {len(acknowledged)}"
                r = await admin.post(f"/api/v1/conversations/{cid}/messages", json={"body": body})
                assert r.status_code == 201, r.text
                acknowledged.append(body)

        sender = asyncio.create_task(keep_sending())
        await eventually(lambda: len(acknowledged) >= 20)
        before_backup = list(acknowledged)
        taken = await asyncio.to_thread(run_cli, env, "backup", "--to", str(folder))
        await eventually(lambda: len(acknowledged) >= len(before_backup) + 20)
        stop.set()
        await sender
    server.stop()
    assert taken.returncode == 0, taken.stderr
    assert "1 files" in taken.stdout
    again = run_cli(env, "backup", "--to", str(folder))
    assert again.returncode == 1 and "exists already" in again.stderr

    restored = run_cli(restored_env, "restore", "--from", str(folder))
    assert restored.returncode == 0, restored.stderr
    replacement = start_server(
        data_dir=restored_env["HALLWAY_DATA_DIR"],
        database_url=restored_env["HALLWAY_DATABASE_URL"],
        **(
            {"migration_database_url": restored_env["HALLWAY_MIGRATION_DATABASE_URL"]}
            if "HALLWAY_MIGRATION_DATABASE_URL" in restored_env
            else {}
        ),
    )
    async with httpx.AsyncClient(base_url=replacement.base_url, timeout=10) as http:
        login = await http.post(
            "/api/v1/auth/login", json={"email": admin.email, "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        again_admin = Person(
            id=admin.id,
            email=admin.email,
            company_id=admin.company_id,
            role="admin",
            token=login.json()["access_token"],
            client=http,
        )
        events = await events_of(again_admin, cid)
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        bodies = [e["data"]["body"] for e in events if e["kind"] == "message.created"]
        assert set(before_backup) <= set(bodies)  # everything acknowledged before it began
        assert bodies[0] == "see attached"

        with_file = await oldest_message(again_admin, cid)
        assert with_file["body"] == "see attached"
        download = await http.get(with_file["attachments"][0]["url"])
        assert download.status_code == 200 and download.content == ATTACHED

        sent = await again_admin.post(
            f"/api/v1/conversations/{cid}/messages", json={"body": "after the restore"}
        )
        assert sent.status_code == 201, sent.text
        assert sent.json()["seq"] == events[-1]["seq"] + 1


async def test_restore_refuses_a_folder_without_a_backup(
    restored_env: dict[str, str], tmp_path: Path
) -> None:
    result = run_cli(restored_env, "restore", "--from", str(tmp_path))
    assert result.returncode == 1
    assert "holds no" in result.stderr and "Traceback" not in result.stderr
