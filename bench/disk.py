"""Disk: what a durable commit costs on this machine, at the end-to-end scenario's pace (one
every 50 ms) and back to back. Context for the other figures, with no target of its own.

PostgreSQL waits for `fdatasync` of its log at every commit, so a slow sync after a quiet
spell shows in its send and end-to-end latencies; SQLite in WAL mode with
synchronous=NORMAL does not sync on commit (its checkpoints do, off the event loop).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import text

from bench.e2e import RATE
from bench.server import Stack, fresh_database
from bench.stats import Result, latency_ms
from hallway.store.driver_sql import driver_statement

ROUNDS = 200
GAP = 1 / RATE
BLOCK = b"x" * 8192  # a PostgreSQL WAL page


async def _timed(step: Callable[[], Awaitable[None]], gap: float) -> list[float]:
    latencies = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        await step()
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(gap)
    return latencies


def _result(backend: str, what: str, idle: list[float], busy: list[float]) -> Result:
    idle_ms, busy_ms = latency_ms(idle), latency_ms(busy)
    return Result(
        "disk",
        backend,
        what,
        {"after_idle": idle_ms, "back_to_back": busy_ms, "gap_s": GAP, "rounds": ROUNDS},
        f"after {GAP * 1000:.0f} ms idle p50 {idle_ms['p50_ms']} ms, p99 {idle_ms['p99_ms']} "
        f"ms; back to back p50 {busy_ms['p50_ms']} ms, p99 {busy_ms['p99_ms']} ms",
        "context",
        None,
    )


async def _fdatasync(directory: Path) -> Result:
    fd, name = tempfile.mkstemp(dir=directory)
    try:

        async def step() -> None:
            os.write(fd, BLOCK)
            os.fdatasync(fd)

        idle, busy = await _timed(step, GAP), await _timed(step, 0)
    finally:
        os.close(fd)
        os.unlink(name)
    return _result("machine", "8 KiB write + fdatasync", idle, busy)


# As a send runs its statement: literal SQL on the driver, committed by itself on
# PostgreSQL (hallway.store.message_log).
_INSERT_ONE_ROW = driver_statement("INSERT INTO bench_commit (n) VALUES (:n)")


async def _commit(stack: Stack) -> Result:
    db = await fresh_database(stack)
    try:
        async with db.write() as conn:
            await conn.execute(text("CREATE TABLE bench_commit (n INTEGER)"))

        async def step() -> None:
            await db.write_statement(_INSERT_ONE_ROW, {"n": 1})

        idle, busy = await _timed(step, GAP), await _timed(step, 0)
    finally:
        await db.dispose()
    return _result(stack.label, "one-row commit through Database", idle, busy)


async def run(stacks: list[Stack], args: argparse.Namespace) -> list[Result]:
    stacks[0].data_dir.mkdir(parents=True, exist_ok=True)
    results = [await _fdatasync(stacks[0].data_dir)]
    for stack in stacks:
        results.append(await _commit(stack))
    return results
