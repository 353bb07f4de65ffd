"""Shared test plumbing: which stacks to run on, settings, an API client, live servers."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar

import asyncpg
import httpx
import jwt
import orjson
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession
from fastapi import FastAPI
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import make_url, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from websockets.asyncio.client import ClientConnection, connect

from hallway.api.app import create_app
from hallway.client import RealtimeClient
from hallway.config import Settings
from hallway.domain.actor import Actor, Role
from hallway.domain.signup import confirmation_token_in, outbox_confirmation_token
from hallway.domain.tokens import issue_access_token
from hallway.store import tables as t
from hallway.store.acting import SYSTEM_ROLE
from hallway.store.database import Database
from hallway.store.types import utcnow

TEST_DATABASE_URL = os.environ.get("HALLWAY_TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("HALLWAY_TEST_REDIS_URL")
SECRET = "test-secret-key-that-is-long-enough-for-production-0123456789"

# sqlite: SQLite file + in-memory broker. postgresql: PostgreSQL + Redis broker (CI has both).
STACKS = ["sqlite"] + (["postgresql"] if TEST_DATABASE_URL else [])

# Where the PostgreSQL-only tests run without HALLWAY_TEST_DATABASE_URL: a local server.
LOCAL_POSTGRESQL_URL = "postgresql://127.0.0.1:5432/postgres"


def _reachable(url: str) -> bool:
    async def connect() -> None:
        conn = await asyncpg.connect(url, timeout=2)
        await conn.close()

    try:
        asyncio.run(connect())
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False
    return True


POSTGRESQL_URL = TEST_DATABASE_URL or (
    LOCAL_POSTGRESQL_URL if _reachable(LOCAL_POSTGRESQL_URL) else None
)
"""The server the PostgreSQL stack's tests run on, if any."""
POSTGRESQL_MISSING = (
    "PostgreSQL-only test NOT RUN: set HALLWAY_TEST_DATABASE_URL, or run PostgreSQL on "
    "127.0.0.1:5432"
)

# Marks of a test of what only PostgreSQL does (its send statements, its pool, races that
# SQLite's one writer at a time rules out): run whenever a PostgreSQL server is there, even
# without HALLWAY_TEST_DATABASE_URL (the whole suite runs on PostgreSQL only with it), and
# skipped loudly otherwise (conftest.py's summary counts them).
POSTGRESQL_ONLY = [
    pytest.mark.skipif(POSTGRESQL_URL is None, reason=POSTGRESQL_MISSING),
    pytest.mark.parametrize("stack", ["postgresql"], indirect=True),
]

# Marks of a test that runs two server processes on one PostgreSQL database and Redis (the
# `two_nodes` fixture): a scaled-out deployment.
TWO_NODES = [
    pytest.mark.skipif(
        not (TEST_DATABASE_URL and TEST_REDIS_URL),
        reason="needs HALLWAY_TEST_DATABASE_URL and HALLWAY_TEST_REDIS_URL (CI sets both)",
    ),
    pytest.mark.parametrize("stack", ["postgresql"], indirect=True),
]

# What serves a test's server processes: `hallway serve` (its own realtime protocol), or
# plain uvicorn running the app factory with its own WebSocket implementation and the app's
# ASGI realtime route. Tests marked `every_server` run under both; the rest under the first.
SERVINGS = ("hallway", "uvicorn")
# What a user of another ASGI server runs: uvicorn's defaults, Hallway's app factory.
PLAIN_UVICORN = ("-m", "uvicorn", "--factory", "hallway.api.app:create_app")

TestFunction = TypeVar("TestFunction", bound=Callable[..., Any])

# The property under which tests/test_fuzz_api.py records its counts, for the run's summary.
FUZZ_SUMMARY = "schemathesis"


def on_two_nodes(test: TestFunction) -> TestFunction:
    """Mark one test with TWO_NODES."""
    for mark in TWO_NODES:
        test = mark(test)
    return test


def on_postgresql(test: TestFunction) -> TestFunction:
    """Mark one test with POSTGRESQL_ONLY."""
    for mark in POSTGRESQL_ONLY:
        test = mark(test)
    return test


RUN_DATABASE = f"hallway_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
# The run's app role on PostgreSQL: the suite's servers connect as it, so that row-level
# security holds everything they do (docs/deploy.md, "Row-level security"); the server's
# own user owns the tables and migrates.
RUN_APP_ROLE = f"hallway_rls_{RUN_DATABASE.removeprefix('hallway_test_')}"

# Without SMTP a server writes its mail to an outbox folder; every server of the run, in
# process or not, writes to this one, where Directory finds each sign-up's link (addresses
# are unique, so runs and tests never read each other's mail).
MAIL_OUTBOX = Path(tempfile.gettempdir()) / f"{RUN_DATABASE}-outbox"


# The suite signs up every company from one address, guesses wrong passwords, and sends
# and subscribes in bursts: the limits that stop such things are raised out of its way
# (on PostgreSQL + Redis one counter serves the whole run). tests/test_limits.py sets
# small ones of its own.
TEST_RATE_LIMITS = {
    "HALLWAY_LOGIN_FAILURES_PER_ADDRESS": "100000 per hour",
    "HALLWAY_SIGNUPS_PER_ADDRESS": "100000 per hour",
    "HALLWAY_JOINS_PER_ADDRESS": "100000 per hour",
    "HALLWAY_SENDS_PER_PERSON": "100000 per 10 seconds",
    "HALLWAY_WS_FRAMES_PER_CONNECTION": "100000 per 10 seconds",
}


def stack_env(stack: str, data_dir: Path, sqlite_path: Path | None = None) -> dict[str, str]:
    """HALLWAY_* variables for one stack, usable for Settings and for server processes."""
    env = {
        "HALLWAY_DATA_DIR": str(data_dir),
        "HALLWAY_SECRET_KEY": SECRET,
        "HALLWAY_PASSWORD_HASH_TIME_COST": "1",
        "HALLWAY_PASSWORD_HASH_MEMORY_KIB": "64",
        # Counters in the shared Redis are this run's own.
        "HALLWAY_RATE_LIMIT_KEY_PREFIX": f"hallway-test:{RUN_DATABASE}",
        "HALLWAY_MAIL_OUTBOX_DIR": str(MAIL_OUTBOX),
        # A line per request, so that tests/conftest.py's watch on secrets in logs sees them.
        "HALLWAY_ACCESS_LOG": "true",
        **TEST_RATE_LIMITS,
    }
    if stack == "postgresql":
        assert POSTGRESQL_URL
        owner_url = run_database_url(POSTGRESQL_URL, RUN_DATABASE)
        env["HALLWAY_DATABASE_URL"] = role_url(owner_url, RUN_APP_ROLE)
        env["HALLWAY_MIGRATION_DATABASE_URL"] = owner_url
        if TEST_REDIS_URL:
            env["HALLWAY_REDIS_URL"] = TEST_REDIS_URL
    elif sqlite_path is not None:
        env["HALLWAY_DATABASE_URL"] = f"sqlite:///{sqlite_path}"
    return env


def settings_from_env(env: dict[str, str], **overrides: Any) -> Settings:
    values: dict[str, Any] = {k.removeprefix("HALLWAY_").lower(): v for k, v in env.items()}
    values.update(overrides)
    return Settings(**values)


def run_database_url(url: str, name: str) -> str:
    """The URL of database `name` on the same server as `url`."""
    url_object = make_url(Settings(database_url=url).effective_database_url)
    return url_object.set(database=name).render_as_string(hide_password=False)


def role_url(url: str, role: str) -> str:
    """The same database as `url`, as `role` (the test server trusts local connections)."""
    return make_url(url).set(username=role, password=None).render_as_string(hide_password=False)


async def _autocommit(url: str, *statements: str) -> None:
    """Run statements one by one, each committing by itself, on the server of `url`."""
    engine = create_async_engine(
        Settings(database_url=url).effective_database_url, isolation_level="AUTOCOMMIT"
    )
    async with engine.connect() as conn:
        for statement in statements:
            await conn.execute(text(statement))
    await engine.dispose()


async def create_app_role(url: str, role: str) -> None:
    """An app role for the database at `url` (its owner's URL), as docs/deploy.md makes one:
    it may read and write every table, it is held by row-level security, and it may act as
    the system (a member of hallway_system)."""
    await _autocommit(
        url,
        f"DO $$ BEGIN CREATE ROLE {SYSTEM_ROLE} NOLOGIN;"
        " EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
        f'DROP ROLE IF EXISTS "{role}"',
        *(statement.format(role=f'"{role}"') for statement in APP_ROLE_GRANTS),
    )


APP_ROLE_GRANTS = (
    "CREATE ROLE {role} LOGIN",
    f"GRANT {SYSTEM_ROLE} TO {{role}}",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
    "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}",
)
"""What docs/deploy.md grants an app role (after `hallway migrate`)."""


async def drop_role(url: str, role: str) -> None:
    """Drop a role made by create_app_role, once the databases it has rights in are gone."""
    await _autocommit(url, f'DROP ROLE IF EXISTS "{role}"')


async def create_run_database(url: str, name: str) -> None:
    """A database of this test run's own, so runs sharing the machine's server (CI, each
    developer, parallel runs) never see each other's rows."""
    await _autocommit(url, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')


async def drop_run_database(url: str, name: str) -> None:
    await _autocommit(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def insert_channel(db: Database, at: datetime) -> str:
    """A new company's empty channel, written straight to the tables (for store-level tests
    that need a conversation but no people)."""
    company_id, conversation_id = str(uuid.uuid4()), str(uuid.uuid4())
    async with db.write() as conn:
        await conn.execute(t.companies.insert().values(id=company_id, name="Acme", created_at=at))
        await conn.execute(
            t.conversations.insert().values(
                id=conversation_id,
                company_id=company_id,
                kind="channel",
                last_seq=0,
                last_activity_at=at,
                created_at=at,
            )
        )
    return conversation_id


async def insert_message(db: Database, conversation_id: str, seq: int, body: str) -> None:
    """A message written straight to its table (no event, no seq allocated)."""
    async with db.write() as conn:
        await conn.execute(
            t.messages.insert().values(
                id=str(uuid.uuid4()),
                conversation_id=conversation_id,
                seq=seq,
                body=body,
                created_at=utcnow(),
            )
        )


def unique_email(name: str = "person") -> str:
    return f"{name}-{uuid.uuid4().hex[:10]}@example.test"


@dataclass
class Person:
    """A signed-up person with a client that sends their token."""

    id: str
    email: str
    company_id: str
    role: str
    token: str
    client: httpx.AsyncClient
    refresh_token: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(url, headers=self.headers, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.client.post(url, headers=self.headers, **kwargs)

    async def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.client.patch(url, headers=self.headers, **kwargs)

    async def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.client.put(url, headers=self.headers, **kwargs)

    async def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.client.delete(url, headers=self.headers, **kwargs)


def session_of(person: Person) -> str:
    """The session id a person's access token names."""
    claims = jwt.decode(person.token, SECRET, algorithms=["HS256"])
    return str(claims["sid"])


def short_lived_token(env: dict[str, str], person: Person, ttl: int) -> str:
    """An access token of the person's session that expires in `ttl` seconds (negative: in
    the past), issued as the server issues them (the setting's own floor is 60 s, so the
    copy skips validation)."""
    settings = settings_from_env(env).model_copy(update={"access_token_ttl_seconds": ttl})
    role: Role = "admin" if person.role == "admin" else "member"
    return issue_access_token(
        settings, Actor(person.id, person.company_id, role, session_of(person))
    )[0]


def _person(client: httpx.AsyncClient, body: dict[str, Any]) -> Person:
    user = body["user"]
    return Person(
        id=user["id"],
        email=user["email"],
        company_id=user["company_id"],
        role=user["role"],
        token=body["access_token"],
        client=client,
        refresh_token=body["refresh_token"],
    )


class Mailbox(Protocol):
    """Where a test reads the link that finishes a sign-up or a join."""

    def confirmation_token(self, address: str) -> str: ...


class Outbox:
    """The run's outbox folder, where servers without SMTP write their mail."""

    def confirmation_token(self, address: str) -> str:
        return outbox_confirmation_token(MAIL_OUTBOX, address)


class SmtpInbox:
    """A local SMTP server (aiosmtpd) keeping every message it is given."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"

    def settings(self, env: dict[str, str], **overrides: Any) -> Settings:
        """The test stack's settings, mailing through this server."""
        return settings_from_env(
            env, smtp_host="127.0.0.1", smtp_port=self.port, smtp_starttls=False, **overrides
        )

    def texts_to(self, address: str) -> list[str]:
        return [
            m.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
            for m in self.messages
            if m["To"] == address
        ]

    def confirmation_token(self, address: str) -> str:
        for mail_text in reversed(self.texts_to(address)):
            token = confirmation_token_in(mail_text)
            if token:
                return token
        raise LookupError(f"no sign-up link to {address}")


class Directory:
    """Creates companies and people through the public API, finishing each sign-up and
    join with the link mailed for it."""

    def __init__(self, client: httpx.AsyncClient, mailbox: Mailbox | None = None) -> None:
        self.client = client
        self.mailbox = mailbox or Outbox()

    async def confirm(self, address: str) -> Person:
        """Open the newest link mailed to `address`."""
        token = self.mailbox.confirmation_token(address)
        r = await self.client.post("/api/v1/auth/confirm", json={"token": token})
        assert r.status_code == 201, r.text
        return _person(self.client, r.json())

    async def company(self, name: str = "Acme") -> Person:
        """Sign up a new company; returns its admin."""
        address = unique_email("admin")
        r = await self.client.post(
            "/api/v1/auth/signup",
            json={
                "company_name": name,
                "email": address,
                "password": "correct horse battery",
                "display_name": f"{name} Admin",
            },
        )
        assert r.status_code == 202, r.text
        return await self.confirm(address)

    async def colleague(self, admin: Person, name: str = "Colleague") -> Person:
        invite = await admin.post("/api/v1/invites", json={})
        assert invite.status_code == 201, invite.text
        address = unique_email(name.lower().replace(" ", "."))
        r = await self.client.post(
            "/api/v1/auth/join",
            json={
                "invite_code": invite.json()["code"],
                "email": address,
                "password": "correct horse battery",
                "display_name": name,
            },
        )
        assert r.status_code == 202, r.text
        return await self.confirm(address)

    async def team(self, title: str = "team") -> tuple[Person, Person, dict[str, Any]]:
        """A new company's admin and a colleague, Bob, in a group conversation."""
        admin = await self.company()
        bob = await self.colleague(admin, "Bob")
        return admin, bob, await self.conversation(admin, "group", [bob], title=title)

    async def conversation(
        self, owner: Person, kind: str, members: list[Person], title: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": kind, "member_ids": [m.id for m in members]}
        if title is not None or kind == "channel":
            body["title"] = title or "a channel"
        r = await owner.post("/api/v1/conversations", json=body)
        assert r.status_code in (200, 201), r.text
        result: dict[str, Any] = r.json()
        return result


def response_head(sock: socket.socket) -> bytes:
    """Read a raw socket up to the end of a response's head (and whatever came with it)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        data += chunk
    return data


# Servers' ports come from below the kernel's ephemeral range (32768 and up on Linux), so no
# client connection's port can take one between its pick and the server's bind; under
# pytest-xdist each worker draws from a block of its own, so two workers never pick alike.
_PORTS_LOW, _PORTS_HIGH = 10_000, 32_000
_WORKER_BLOCK = 2_000
# Ports in that range that browsers refuse to load (Chromium's restricted ports, the
# Fetch standard's "bad ports"): a server there could not be opened by the browser tests.
_BROWSER_BLOCKED_PORTS = frozenset({10080})
# The latest picks, not handed out again: a caller may pick several before binding any.
_recent_ports: deque[int] = deque(maxlen=64)


def free_port() -> int:
    """A port of 127.0.0.1 free now, and none of this process's latest picks."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "").removeprefix("gw")
    if worker.isdigit():
        blocks = (_PORTS_HIGH - _PORTS_LOW) // _WORKER_BLOCK
        low = _PORTS_LOW + int(worker) % blocks * _WORKER_BLOCK
        high = low + _WORKER_BLOCK
    else:
        low, high = _PORTS_LOW, _PORTS_HIGH
    while True:
        port = random.randrange(low, high)
        if port in _recent_ports or port in _BROWSER_BLOCKED_PORTS:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _recent_ports.append(port)
        return port


class ServerProcess:
    """`hallway serve` in its own process on a free port: real HTTP, real WebSockets. With
    serving="uvicorn", plain uvicorn serves the app instead (SERVINGS); `args` are then
    uvicorn's options."""

    def __init__(
        self,
        env: dict[str, str],
        port: int | None = None,
        args: Sequence[str] = (),
        stdout: IO[bytes] | None = None,
        stderr: IO[bytes] | None = None,
        serving: str = "hallway",
    ) -> None:
        assert serving in SERVINGS
        self.port = port or free_port()
        self.env = {**os.environ, **env}
        self.args = list(args)
        self.stdout = stdout
        self.stderr = stderr
        self.serving = serving
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1/realtime"

    def start(self, timeout: float = 30.0, wait_for: str = "/readyz") -> ServerProcess:
        """Start, and wait until `wait_for` answers 200 (/healthz: up, though perhaps not
        ready)."""
        command = ("-m", "hallway.cli", "serve") if self.serving == "hallway" else PLAIN_UVICORN
        self.process = subprocess.Popen(
            [
                sys.executable,
                *command,
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                *self.args,
            ],
            env=self.env,
            stdout=self.stdout,
            stderr=self.stderr,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.base_url}{wait_for}", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not become ready")

    def kill(self) -> None:
        """Die at once, as a crashed node would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


async def eventually(check: Any, timeout: float = 5.0, interval: float = 0.02) -> Any:
    """Poll an async or plain callable until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


def error_of(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """Assert the one JSON error shape (and status, and code when given); return its error,
    but for its request id."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "details", "request_id"}, error
    # The id of the request the error answers, as its header says; taken out of what is
    # returned, so that two answers compare by what they say.
    assert error.pop("request_id") == response.headers["x-request-id"], error
    assert isinstance(error["code"], str) and error["code"], error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["details"], dict), error
    if code is not None:
        assert error["code"] == code, error
    return error


def named_fields(error: dict[str, Any]) -> set[str]:
    """The fields an error names: `details.field` (domain) or `details.fields[].field`."""
    details = error["details"]
    found = {str(f["field"]) for f in details.get("fields", [])}
    if "field" in details:
        found.add(str(details["field"]))
    return found


async def send(
    person: Person, conversation_id: str, body: str = "hello", **fields: Any
) -> dict[str, Any]:
    """Send a message that must be created (201); returns it."""
    r = await person.post(
        f"/api/v1/conversations/{conversation_id}/messages", json={"body": body, **fields}
    )
    assert r.status_code == 201, r.text
    message: dict[str, Any] = r.json()
    return message


async def send_anew(
    server: ServerProcess, person: Person, conversation_id: str, body: str
) -> dict[str, Any]:
    """Send a message on an HTTP connection of its own (under --workers, each such send may
    land on any process); returns it."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as once:
        r = await once.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            json={"body": body},
            headers=person.headers,
        )
    assert r.status_code == 201, r.text
    message: dict[str, Any] = r.json()
    return message


async def company_rows(db_url: str, company_ids: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored row belonging to these companies, table by table, in a stable order.

    Scoped to companies rather than whole tables, so that other test runs sharing the
    PostgreSQL database cannot disturb a before/after comparison.
    """
    conversation_ids = select(t.conversations.c.id).where(
        t.conversations.c.company_id.in_(company_ids)
    )
    message_ids = select(t.messages.c.id).where(t.messages.c.conversation_id.in_(conversation_ids))
    queries = {
        "companies": select(t.companies).where(t.companies.c.id.in_(company_ids)),
        "users": select(t.users).where(t.users.c.company_id.in_(company_ids)),
        "invites": select(t.invites).where(t.invites.c.company_id.in_(company_ids)),
        "conversations": select(t.conversations).where(
            t.conversations.c.company_id.in_(company_ids)
        ),
        "participants": select(t.participants).where(
            t.participants.c.conversation_id.in_(conversation_ids)
        ),
        "messages": select(t.messages).where(t.messages.c.conversation_id.in_(conversation_ids)),
        "events": select(t.events).where(t.events.c.conversation_id.in_(conversation_ids)),
        "reactions": select(t.reactions).where(t.reactions.c.message_id.in_(message_ids)),
        "message_edits": select(t.message_edits).where(
            t.message_edits.c.message_id.in_(message_ids)
        ),
        "attachments": select(t.attachments).where(t.attachments.c.company_id.in_(company_ids)),
    }
    db = Database(db_url)
    try:
        async with db.read() as conn:
            return {
                name: sorted((tuple(row) for row in await conn.execute(query)), key=repr)
                for name, query in queries.items()
            }
    finally:
        await db.dispose()


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An in-process app on settings of the test's own choosing, started, with a client."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hallway.test") as c:
            yield app, c


@asynccontextmanager
async def realtime(
    server: ServerProcess, person: Person, **options: Any
) -> AsyncIterator[RealtimeClient]:
    """A live RealtimeClient for this person on this server, closed afterwards."""
    client = RealtimeClient(server.ws_url, person.token, **options)
    await client.start()
    try:
        yield client
    finally:
        await client.close()


async def authenticated_socket(
    server: ServerProcess, person: Person, compression: str | None = "deflate"
) -> ClientConnection:
    """A bare `websockets` client of this server, past auth; closed by the caller.
    `compression` as websockets' `connect` takes it (it offers deflate by default)."""
    ws = await connect(server.ws_url, compression=compression)
    await ws.send(orjson.dumps({"type": "auth", "token": person.token}).decode())
    assert orjson.loads(await ws.recv())["type"] == "ready"
    return ws


async def frames_of_types(
    ws: ClientConnection, types: Sequence[str], count: int, timeout: float = 15
) -> list[dict[str, Any]]:
    """The next `count` frames of these types on a bare `websockets` client, others
    (presence, typing) skipped."""
    found: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while len(found) < count:
            frame = orjson.loads(await ws.recv(decode=False))
            if frame["type"] in types:
                found.append(frame)
    return found


# --- metrics -----------------------------------------------------------------------------

METRICS_TOKEN = "metrics-token-for-the-test-suite"
"""What tests give a server as HALLWAY_METRICS_TOKEN (`metrics_token=` of start_server)."""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
"""A scrape's samples by name and labels."""


async def scrape(base_url: str) -> Samples:
    """One scrape of a server's /metrics, on a connection of its own (under --workers any
    process may take it)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        r = await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(r.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample of a scrape; 0 when the scrape has none."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def counted(name: str, **labels: str) -> float:
    """A sample of this process's metrics (apps run in the test's own process); 0 if none."""
    return REGISTRY.get_sample_value(name, labels) or 0.0
