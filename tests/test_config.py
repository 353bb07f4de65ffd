"""Settings: every field from HALLWAY_* variables, database URLs, the secret, startup checks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hallway.api.app import create_app
from hallway.cli import build_parser
from hallway.config import ConfigError, Settings
from tests.support import Directory, error_of, running_app, send, settings_from_env

LONG_SECRET = "s" * 40


@pytest.fixture(autouse=True)
def no_hallway_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test states its own HALLWAY_* variables."""
    for name in list(os.environ):
        if name.startswith("HALLWAY_"):
            monkeypatch.delenv(name)


def test_every_setting_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HALLWAY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HALLWAY_MAX_BODY_CHARS", "5")
    monkeypatch.setenv("HALLWAY_ACCESS_TOKEN_TTL_SECONDS", "120")
    monkeypatch.setenv("HALLWAY_REDIS_URL", "redis://example:6379/1")
    monkeypatch.setenv("HALLWAY_STORAGE", "s3")
    settings = Settings()
    assert settings.data_dir == tmp_path
    assert settings.max_body_chars == 5
    assert settings.access_token_ttl_seconds == 120
    assert settings.redis_url == "redis://example:6379/1"
    assert settings.storage == "s3"


def test_defaults() -> None:
    settings = Settings()
    assert settings.mode == "dev"
    assert settings.data_dir == Path("./data")
    assert settings.redis_url is None
    assert settings.storage == "local"
    assert settings.effective_database_url == (
        f"sqlite:///{(Path('./data') / 'hallway.db').resolve()}"
    )
    assert settings.is_sqlite


@pytest.mark.parametrize(
    ("given", "effective"),
    [
        ("postgresql://u:p@db:5432/h", "postgresql+asyncpg://u:p@db:5432/h"),
        ("postgres://db/h", "postgresql+asyncpg://db/h"),
        ("sqlite:////tmp/h.db", "sqlite:////tmp/h.db"),
        # Older configurations named aiosqlite; Database runs any SQLite URL through sqlite3.
        ("sqlite+aiosqlite:////tmp/h.db", "sqlite+aiosqlite:////tmp/h.db"),
        ("postgresql+asyncpg://db/h", "postgresql+asyncpg://db/h"),
    ],
)
def test_postgresql_urls_get_the_asyncpg_driver(given: str, effective: str) -> None:
    settings = Settings(database_url=given)
    assert settings.effective_database_url == effective
    assert settings.is_sqlite == effective.startswith("sqlite")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("mode", "staging"),
        ("max_body_chars", "0"),
        ("access_token_ttl_seconds", "5"),
        ("storage", "ftp"),
        ("max_request_head_bytes", "100"),
        ("request_head_timeout_seconds", "0"),
        ("keep_alive_timeout_seconds", "0"),
        ("max_connections_per_address", "-1"),
        ("connection_cap_exempt", ["10.0.0.300/8"]),
    ],
)
def test_invalid_values_are_refused(name: str, value: str | list[str]) -> None:
    with pytest.raises(ValueError, match=name):
        Settings(**{name: value})  # type: ignore[arg-type]


def test_the_edge_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HALLWAY_CONNECTION_CAP_EXEMPT", '["10.1.0.0/16", "fd00::1"]')
    monkeypatch.setenv("HALLWAY_MAX_CONNECTIONS_PER_ADDRESS", "0")
    settings = Settings()
    assert [str(network) for network in settings.connection_cap_exempt] == [
        "10.1.0.0/16",
        "fd00::1/128",
    ]
    assert settings.max_connections_per_address == 0
    # Loopback, where a proxy on the same machine connects from, unless told otherwise.
    monkeypatch.delenv("HALLWAY_CONNECTION_CAP_EXEMPT")
    assert [str(network) for network in Settings().connection_cap_exempt] == [
        "127.0.0.1/32",
        "::1/128",
    ]


def test_production_refuses_a_missing_or_short_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="HALLWAY_SECRET_KEY is required"):
        Settings(mode="production", data_dir=tmp_path).check()
    with pytest.raises(ConfigError, match="at least 32"):
        Settings(mode="production", data_dir=tmp_path, secret_key="short").check()
    with pytest.raises(ConfigError, match="HALLWAY_SECRET_KEY"):
        create_app(Settings(mode="production", data_dir=tmp_path))
    Settings(mode="production", data_dir=tmp_path, secret_key=LONG_SECRET).check()
    # Production never writes a secret of its own.
    assert not (tmp_path / "secret_key").exists()


def test_dev_mode_generates_and_keeps_a_secret(tmp_path: Path) -> None:
    data_dir = tmp_path / "new-data-dir"
    first = Settings(data_dir=data_dir).effective_secret_key
    assert len(first) >= 32
    stored = data_dir / "secret_key"
    assert stored.read_text() == first
    assert stored.stat().st_mode & 0o777 == 0o600
    assert Settings(data_dir=data_dir).effective_secret_key == first
    # A configured secret wins over the stored one.
    assert Settings(data_dir=data_dir, secret_key=LONG_SECRET).effective_secret_key == LONG_SECRET


def test_s3_keys_go_together(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="HALLWAY_S3_SECRET_KEY"):
        Settings(
            data_dir=tmp_path, secret_key=LONG_SECRET, storage="s3", s3_access_key="id"
        ).check()
    # No endpoint and no keys: AWS S3 with boto3's own credentials, which is valid.
    Settings(data_dir=tmp_path, secret_key=LONG_SECRET, storage="s3").check()


def test_serve_defaults_to_localhost_8000() -> None:
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.no_migrate) == ("127.0.0.1", 8000, False)
    args = build_parser().parse_args(["serve", "--host", "0.0.0.0", "--port", "9000"])
    assert (args.host, args.port) == ("0.0.0.0", 9000)


@pytest.mark.anyio
async def test_limits_in_settings_apply_to_requests(env: dict[str, str]) -> None:
    settings = settings_from_env(env, max_body_chars=10, max_title_chars=5)
    async with running_app(settings) as (_, client):
        directory = Directory(client)
        admin = await directory.company()
        bob = await directory.colleague(admin, "Bob")
        r = await admin.post(
            "/api/v1/conversations",
            json={"kind": "group", "member_ids": [bob.id], "title": "sixsix"},
        )
        error_of(r, 422)
        group = await directory.conversation(admin, "group", [bob], "five5")
        await send(admin, group["id"], "x" * 10)
        r = await admin.post(
            f"/api/v1/conversations/{group['id']}/messages", json={"body": "x" * 11}
        )
        error_of(r, 422, "body_too_long")
