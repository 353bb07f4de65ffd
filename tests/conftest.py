"""Fixtures: every suite runs on SQLite, and on PostgreSQL + Redis when CI provides them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import make_url

from hallway.api.app import create_app
from hallway.config import Settings
from hallway.logs import JsonFormatter
from hallway.store.database import Database
from hallway.store.migrate import upgrade_to_head
from tests.support import (
    FUZZ_SUMMARY,
    MAIL_OUTBOX,
    POSTGRESQL_MISSING,
    POSTGRESQL_URL,
    RUN_APP_ROLE,
    RUN_DATABASE,
    SERVINGS,
    STACKS,
    Directory,
    ServerProcess,
    SmtpInbox,
    create_app_role,
    create_run_database,
    drop_role,
    drop_run_database,
    run_database_url,
    settings_from_env,
    stack_env,
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked `every_server` run under each of SERVINGS."""
    if "serving" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "every_server"
    ):
        metafunc.parametrize("serving", SERVINGS, indirect=True)


def pytest_report_header() -> str:
    if POSTGRESQL_URL is None:
        return f"postgresql: none. {POSTGRESQL_MISSING}"
    every = "every suite" if "postgresql" in STACKS else "the PostgreSQL-only tests"
    return f"postgresql: {every} on {make_url(POSTGRESQL_URL).render_as_string()}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say what the API fuzzing ran, and loudly what PostgreSQL-only tests did not run,
    after everything else."""
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            for name, value in getattr(report, "user_properties", []):
                if name == FUZZ_SUMMARY:
                    terminalreporter.write_line(f"schemathesis on {value}")
    missed = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if POSTGRESQL_MISSING in str(report.longrepr)
    ]
    if missed:
        terminalreporter.write_sep(
            "!", f"{len(missed)} skipped. {POSTGRESQL_MISSING}", red=True, bold=True
        )


# What no log line may hold: an access token (a JWT), a refresh token, the suite's password, a
# file link's signature.
SECRETS_IN_LOGS = re.compile(
    r"eyJ[\w-]{8,}\.[\w-]{8,}|[0-9a-f-]{36}\.\d+\.[\w-]{20,}|correct horse battery|signature="
)


class LeakWatch(logging.Handler):
    """Every log record of the in-process apps, formatted as the server writes it, checked."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.formatter_used = JsonFormatter()
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = self.formatter_used.format(record)
        if SECRETS_IN_LOGS.search(line):
            self.leaks.append(line[:400])


@pytest.fixture(scope="session", autouse=True)
def no_secrets_in_logs() -> Iterator[None]:
    """The whole run's log lines, Hallway's at INFO and a line per request included
    (HALLWAY_ACCESS_LOG in stack_env), hold no secret."""
    watch = LeakWatch()
    root, hallway_logger = logging.getLogger(), logging.getLogger("hallway")
    level = hallway_logger.level
    root.addHandler(watch)
    hallway_logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(watch)
        hallway_logger.setLevel(level)
    assert not watch.leaks, f"{len(watch.leaks)} log lines hold secrets, e.g. {watch.leaks[:3]}"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def serving(request: pytest.FixtureRequest) -> str:
    """What serves this test's server processes: `hallway serve` unless the test is marked
    `every_server`."""
    return str(getattr(request, "param", "hallway"))


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """SQLite's database migrated once per run; each test copies it."""
    template = tmp_path_factory.mktemp("template") / "hallway.db"

    async def prepare() -> None:
        db = Database(f"sqlite:///{template}")
        await upgrade_to_head(db)
        await db.dispose()

    asyncio.run(prepare())
    return {"sqlite": template}


@pytest.fixture(scope="session", autouse=True)
def mail_outbox() -> Iterator[None]:
    """The run's mail outbox (stack_env's HALLWAY_MAIL_OUTBOX_DIR), removed after the run."""
    yield
    shutil.rmtree(MAIL_OUTBOX, ignore_errors=True)


@pytest.fixture(scope="session")
def postgresql_database() -> Iterator[None]:
    """PostgreSQL's database of this run, made and migrated when a test first needs it,
    shared by the run's tests and dropped after them."""
    assert POSTGRESQL_URL

    async def prepare() -> None:
        await create_run_database(POSTGRESQL_URL, RUN_DATABASE)
        owner_url = run_database_url(POSTGRESQL_URL, RUN_DATABASE)
        pg = Database(owner_url)
        await upgrade_to_head(pg)
        await pg.dispose()
        await create_app_role(owner_url, RUN_APP_ROLE)

    asyncio.run(prepare())
    yield
    asyncio.run(drop_run_database(POSTGRESQL_URL, RUN_DATABASE))
    asyncio.run(drop_role(POSTGRESQL_URL, RUN_APP_ROLE))


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def env(stack: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    """HALLWAY_* settings for this test's stack (a fresh SQLite file per test)."""
    sqlite_path = None
    if stack == "sqlite":
        template = request.getfixturevalue("migrated")["sqlite"]
        sqlite_path = tmp_path / "hallway.db"
        shutil.copy(template, sqlite_path)
    else:
        request.getfixturevalue("postgresql_database")
    return stack_env(stack, tmp_path, sqlite_path)


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return settings_from_env(env)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hallway.test") as c:
        yield c


@pytest.fixture
def directory(client: httpx.AsyncClient) -> Directory:
    return Directory(client)


@pytest.fixture
def smtp_inbox() -> Iterator[SmtpInbox]:
    """A local SMTP server for the test."""
    inbox = SmtpInbox()
    inbox.controller.start()
    try:
        yield inbox
    finally:
        # A test may have stopped it already, to see mail fail.
        with contextlib.suppress(AssertionError):
            inbox.controller.stop()


@pytest.fixture
def start_server(env: dict[str, str], serving: str) -> Iterator[Callable[..., ServerProcess]]:
    """Start real server processes for this test's stack, with extra HALLWAY_* settings."""
    started: list[ServerProcess] = []

    def start(*args: str, **overrides: str) -> ServerProcess:
        extra = {f"HALLWAY_{k.upper()}": v for k, v in overrides.items()}
        process = ServerProcess({**env, **extra}, args=args, serving=serving)
        started.append(process)
        return process.start()

    try:
        yield start
    finally:
        for process in started:
            process.stop()


@pytest.fixture
def server(start_server: Callable[..., ServerProcess]) -> ServerProcess:
    """A real server process for this test's stack."""
    return start_server()


@pytest.fixture
async def live(server: ServerProcess) -> AsyncIterator[Any]:
    """A Directory speaking real HTTP to the server process."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as c:
        yield Directory(c)


@pytest.fixture
async def two_nodes(
    start_server: Callable[..., ServerProcess],
) -> AsyncIterator[tuple[ServerProcess, ServerProcess, Directory]]:
    """Two server processes on one database and Redis (mark the test with TWO_NODES); the
    Directory speaks to node B."""
    node_a, node_b = start_server(), start_server()
    async with httpx.AsyncClient(base_url=node_b.base_url, timeout=10) as http_b:
        yield node_a, node_b, Directory(http_b)
