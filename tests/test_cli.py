"""The `hallway` command: migrate, demo, create-company, create-user, serve and its refusals
at startup."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest

from hallway.cli import DEMO_PASSWORD
from tests.support import Directory, ServerProcess, error_of, unique_email

pytestmark = pytest.mark.anyio


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hallway.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def fresh_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """Only a data dir: the defaults (SQLite file inside it, a dev secret) do the rest."""
    return {
        "HALLWAY_DATA_DIR": str(data_dir),
        "HALLWAY_PASSWORD_HASH_TIME_COST": "1",
        "HALLWAY_PASSWORD_HASH_MEMORY_KIB": "64",
        **extra,
    }


def test_migrate_creates_the_default_database_and_is_repeatable(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = run_cli(fresh_env(data_dir), "migrate")
    assert first.returncode == 0, first.stderr
    assert "latest schema" in first.stdout
    assert (data_dir / "hallway.db").exists()
    again = run_cli(fresh_env(data_dir), "migrate")
    assert again.returncode == 0, again.stderr


def test_migrate_on_the_stack_database(env: dict[str, str]) -> None:
    result = run_cli(env, "migrate")
    assert result.returncode == 0, result.stderr


async def test_demo_seeds_a_company_to_log_in_to(
    env: dict[str, str], client: httpx.AsyncClient
) -> None:
    result = run_cli(env, "demo")
    assert result.returncode == 0, result.stderr
    assert "ada@demo.hallway" in result.stdout
    assert DEMO_PASSWORD in result.stdout

    r = await client.post(
        "/api/v1/auth/login", json={"email": "ada@demo.hallway", "password": DEMO_PASSWORD}
    )
    assert r.status_code == 200, r.text
    assert r.json()["user"]["role"] == "admin"
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    people = (await client.get("/api/v1/users", headers=headers)).json()["users"]
    assert len(people) == 4
    conversations = (await client.get("/api/v1/conversations", headers=headers)).json()
    assert {c["kind"] for c in conversations["conversations"]} == {"channel", "group", "direct"}
    assert all(c["last_message"] is not None for c in conversations["conversations"])
    # It shows the daily loop: Ada is mentioned in the channel, formatting renders.
    [general] = [c for c in conversations["conversations"] if c["kind"] == "channel"]
    assert general["mention_count"] == 1
    history = await client.get(f"/api/v1/conversations/{general['id']}/messages", headers=headers)
    assert any("<strong>Hallway</strong>" in m["body_html"] for m in history.json()["messages"])

    again = run_cli(env, "demo")
    assert again.returncode == 0, again.stderr
    assert "exists already" in again.stdout


async def test_create_user_adds_someone_who_can_log_in(
    env: dict[str, str], directory: Directory
) -> None:
    admin = await directory.company()
    email = unique_email("operator-made")
    result = run_cli(
        env,
        "create-user",
        "--company-id",
        admin.company_id,
        "--email",
        email,
        "--display-name",
        "Made By Operator",
        "--password",
        "a long enough password",
    )
    assert result.returncode == 0, result.stderr
    assert email in result.stdout
    r = await directory.client.post(
        "/api/v1/auth/login", json={"email": email, "password": "a long enough password"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["user"]["company_id"] == admin.company_id
    assert r.json()["user"]["role"] == "member"


async def test_create_company_makes_an_admin_who_can_log_in_without_mail(
    env: dict[str, str], client: httpx.AsyncClient
) -> None:
    email = unique_email("operator-founder")
    args = ["--name", "Operated", "--email", email, "--display-name", "Founder"]
    result = run_cli(env, "create-company", *args, "--password", "a long enough password")
    assert result.returncode == 0, result.stderr
    login = {"email": email, "password": "a long enough password"}
    r = await client.post("/api/v1/auth/login", json=login)
    assert r.status_code == 200, r.text
    assert r.json()["user"]["role"] == "admin"
    assert r.json()["user"]["company_id"] in result.stdout
    again = run_cli(env, "create-company", *args, "--password", "a long enough password")
    assert again.returncode == 1 and "already registered" in again.stderr
    short = run_cli(env, "create-company", *args[:3], unique_email(), *args[4:], "--password", "x")
    assert short.returncode == 1 and "at least 8" in short.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--company-id", "no-such-company"], "company not found"),
        (["--email", "not-an-email"], "not an email"),
        (["--password", "short"], "at least 8"),
    ],
)
async def test_create_user_refusals_are_one_clear_line(
    env: dict[str, str], directory: Directory, args: list[str], message: str
) -> None:
    admin = await directory.company()
    values = {
        "--company-id": admin.company_id,
        "--email": unique_email("x"),
        "--display-name": "X",
        "--password": "a long enough password",
    }
    values.update(dict(zip(args[::2], args[1::2], strict=True)))
    result = run_cli(env, "create-user", *[part for pair in values.items() for part in pair])
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_no_migrate_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    result = run_cli(fresh_env(tmp_path), "serve", "--no-migrate", "--port", "1")
    assert result.returncode == 2
    assert "run `hallway migrate` first" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("access_log", [None, "true"])
def test_serve_logs_each_request_only_when_asked(tmp_path: Path, access_log: str | None) -> None:
    env = fresh_env(tmp_path)
    if access_log is not None:
        env["HALLWAY_ACCESS_LOG"] = access_log
    with (tmp_path / "server.log").open("wb") as out:
        server = ServerProcess(env, args=["--log-level", "info"], stdout=out, stderr=out).start()
        try:
            assert httpx.get(f"{server.base_url}/healthz").status_code == 200
        finally:
            server.stop()
    logged = (tmp_path / "server.log").read_text()
    assert ("GET /healthz 200" in logged) is (access_log is not None)


def test_serve_logs_json_lines_when_asked(tmp_path: Path) -> None:
    env = {**fresh_env(tmp_path), "HALLWAY_ACCESS_LOG": "true", "HALLWAY_LOG_FORMAT": "json"}
    with (tmp_path / "server.log").open("wb") as out:
        server = ServerProcess(env, args=["--log-level", "info"], stdout=out, stderr=out).start()
        try:
            r = httpx.get(f"{server.base_url}/healthz", headers={"X-Request-Id": "probe-1"})
            assert r.status_code == 200
        finally:
            server.stop()
    lines = [orjson.loads(x) for x in (tmp_path / "server.log").read_text().splitlines()]
    [request] = [x for x in lines if x.get("request_id") == "probe-1"]
    assert (request["logger"], request["path"], request["status"]) == (
        "hallway.requests",
        "/healthz",
        200,
    )
    assert any(x["logger"].startswith("uvicorn") for x in lines)  # uvicorn's lines too


@pytest.mark.parametrize("workers", ["2", "0", "two"])
def test_serve_workers_need_postgresql_and_redis(tmp_path: Path, workers: str) -> None:
    result = run_cli(fresh_env(tmp_path), "serve", "--workers", workers, "--port", "1")
    assert result.returncode == 2
    if workers == "2":
        assert "--workers needs PostgreSQL" in result.stderr
    else:
        assert "--workers" in result.stderr  # argparse names the bad option
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "hallway.db").exists()  # refused before touching anything


@pytest.mark.parametrize(
    ("secret", "message"),
    [(None, "HALLWAY_SECRET_KEY is required"), ("too-short", "at least 32 characters")],
)
def test_production_needs_a_strong_secret(tmp_path: Path, secret: str | None, message: str) -> None:
    env = fresh_env(tmp_path, HALLWAY_MODE="production")
    if secret is not None:
        env["HALLWAY_SECRET_KEY"] = secret
    clean = {k: v for k, v in os.environ.items() if k != "HALLWAY_SECRET_KEY"}
    result = subprocess.run(
        [sys.executable, "-m", "hallway.cli", "serve", "--port", "1"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "configuration error" in result.stderr
    assert message in result.stderr
    assert not (tmp_path / "secret_key").exists()


async def test_dev_mode_keeps_its_generated_secret_across_restarts(
    tmp_path: Path, env: dict[str, str]
) -> None:
    dev_env = {k: v for k, v in env.items() if k != "HALLWAY_SECRET_KEY"}
    first = ServerProcess(dev_env).start()
    try:
        async with httpx.AsyncClient(base_url=first.base_url) as c:
            token = (await Directory(c).company("Restart Co")).token
    finally:
        first.stop()
    secret_file = tmp_path / "secret_key"
    assert secret_file.stat().st_mode & 0o777 == 0o600
    assert len(secret_file.read_text().strip()) >= 32

    second = ServerProcess(dev_env).start()
    try:
        async with httpx.AsyncClient(base_url=second.base_url) as c:
            me = await c.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200, me.text
            error_of(
                await c.get("/api/v1/me", headers={"Authorization": "Bearer x"}),
                401,
                "invalid_token",
            )
    finally:
        second.stop()
