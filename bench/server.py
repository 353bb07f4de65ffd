"""Server processes for the suite: `hallway serve` (or the bare websockets baseline) on free
ports, a fresh database per scenario, and the CPU time and RSS of a process from /proc."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
from sqlalchemy import make_url, text

from hallway.store.database import Database
from hallway.store.migrate import upgrade_to_head

SECRET = "bench-secret-key-that-is-long-enough-for-production-0123456789"
DATABASE_URL = os.environ.get(
    "HALLWAY_BENCH_DATABASE_URL", "postgresql+asyncpg://127.0.0.1:5432/hallway_bench"
)
REDIS_URL = os.environ.get("HALLWAY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
BACKENDS = ("sqlite", "postgresql")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Stack:
    """Where a scenario's servers keep their data and how they talk to each other."""

    backend: str  # sqlite | postgresql
    data_dir: Path
    redis: bool = False  # the Redis broker (needed by two server processes)
    # PostgreSQL: the servers connect as an app role that row-level security holds, the
    # owner (database_url) migrating and seeding (docs/deploy.md, "Row-level security").
    row_security: bool = False

    @property
    def database_url(self) -> str:
        if self.backend == "postgresql":
            return DATABASE_URL
        return f"sqlite:///{self.data_dir / 'hallway.db'}"

    @property
    def label(self) -> str:
        label = f"{self.backend}+redis" if self.redis else self.backend
        return f"{label}+rls" if self.row_security else label

    def with_redis(self) -> Stack:
        return replace(self, redis=True)

    def env(self, **settings: str) -> dict[str, str]:
        """HALLWAY_* variables for a server of this stack, plus any extra settings."""
        env = {
            "HALLWAY_MODE": "production",
            "HALLWAY_DATA_DIR": str(self.data_dir),
            "HALLWAY_DATABASE_URL": self.database_url,
            "HALLWAY_SECRET_KEY": SECRET,
            # The suite measures the server, not its limits: many sends and sockets a
            # second from one person are its load.
            "HALLWAY_RATE_LIMITING": "false",
            "HALLWAY_WS_CONNECTIONS_PER_PERSON": "1000000",
        }
        if self.row_security:
            env["HALLWAY_MIGRATION_DATABASE_URL"] = self.database_url
            env["HALLWAY_DATABASE_URL"] = (
                make_url(self.database_url)
                .set(username=APP_ROLE, password=None)
                .render_as_string(hide_password=False)
            )
        if self.redis:
            env["HALLWAY_REDIS_URL"] = REDIS_URL
        env.update({f"HALLWAY_{k.upper()}": v for k, v in settings.items()})
        return env


async def fresh_database(stack: Stack) -> Database:
    """An empty, migrated database for one scenario (the caller disposes of it)."""
    stack.data_dir.mkdir(parents=True, exist_ok=True)
    if stack.backend == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            (stack.data_dir / f"hallway.db{suffix}").unlink(missing_ok=True)
    db = Database(stack.database_url)
    if stack.backend == "postgresql":
        async with db.write() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    await upgrade_to_head(db)
    if stack.row_security:
        async with db.write() as conn:
            for statement in APP_ROLE_SQL:
                await conn.execute(text(statement))
    return db


APP_ROLE = "hallway_bench_app"
# The app role of docs/deploy.md, made again for each fresh schema (trust authentication).
APP_ROLE_SQL = (
    "DO $$ BEGIN CREATE ROLE hallway_system NOLOGIN;"
    " EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
    f"DO $$ BEGIN CREATE ROLE {APP_ROLE} LOGIN;"
    " EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
    f"GRANT hallway_system TO {APP_ROLE}",
    f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}",
    f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}",
    f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_usage(pid: int) -> tuple[float, int]:
    """(CPU seconds used so far, resident set size in bytes) of a process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    with open(f"/proc/{pid}/statm") as f:
        rss = int(f.read().split()[1]) * PAGE_SIZE
    return cpu, rss


def machine_cpu() -> tuple[float, float]:
    """(CPU seconds busy, seconds stolen by the hypervisor) of all cores since boot, from
    /proc/stat: whatever ran, the suite's servers and clients, the databases and the kernel.
    Steal is time a core was ready to run here and the host gave it to another guest."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values
    return (user + nice + system + irq + softirq) / CLOCK_TICKS, steal / CLOCK_TICKS


class ServerProcess:
    """A server in its own process on a free port of 127.0.0.1, stopped by the caller."""

    def __init__(self, command: list[str], env: dict[str, str], ready_path: str) -> None:
        self.port = free_port()
        self.command = [*command, "--port", str(self.port)]
        self.env = {**os.environ, **env}
        self.ready_path = ready_path
        self.process: subprocess.Popen[bytes] | None = None

    @classmethod
    def hallway(cls, env: dict[str, str]) -> ServerProcess:
        command = [sys.executable, "-m", "hallway.cli", "serve", "--log-level", "warning"]
        return cls(command, env, "/readyz")

    @classmethod
    def baseline(cls, compression: bool = False, redis_url: str | None = None) -> ServerProcess:
        command = [sys.executable, "-m", "bench.baseline_websockets"]
        if compression:
            command.append("--compression")
        if redis_url is not None:
            command += ["--redis", redis_url]
        return cls(command, {}, "/healthz")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def usage(self) -> tuple[float, int]:
        return process_usage(self.pid)

    def start(self, timeout: float = 60.0) -> ServerProcess:
        self.process = subprocess.Popen(self.command, env=self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.command} exited with {self.process.returncode}")
            try:
                if httpx.get(self.base_url + self.ready_path, timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.command} did not become ready")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(15)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
