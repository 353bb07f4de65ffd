"""Connections: idle authenticated WebSockets held by one server process, and its RSS per
connection; the bare websockets baseline holds the same number for comparison.

The clients are spread over processes of at most 5,000 connections each: every process here
is capped at 20,000 open files. The people are in companies of 10, as in real offices (every
arrival is announced to the person's company, so one company of 15,000 would measure the
presence broadcast as well).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from typing import Any

from bench import seed
from bench.harness import hallway_servers
from bench.listeners import Listeners, Plan
from bench.server import ServerProcess, Stack, fresh_database
from bench.stats import Result

PER_CLIENT_PROCESS = 5_000
PER_COMPANY = 10
SETTLE_SECONDS = 5.0
TARGET_PER_GIB = 40_000


async def _tokens(stack: Stack, count: int) -> list[str]:
    db = await fresh_database(stack)
    try:
        found = await seed.companies_with_people(db, count, PER_COMPANY)
    finally:
        await db.dispose()
    return [person.token for _, people in found for person in people]


async def hold(server: ServerProcess, tokens: list[str]) -> dict[str, Any]:
    """Open the connections, let the server settle, and read its RSS."""
    _, rss_before = server.usage()
    plan = Plan(ports=[server.port], tokens=tokens, conversation_id=None, expect=0)
    listeners = Listeners(plan, math.ceil(len(tokens) / PER_CLIENT_PROCESS))
    started = time.monotonic()
    connected = await listeners.start(timeout=300)
    connect_seconds = time.monotonic() - started
    await asyncio.sleep(SETTLE_SECONDS)
    _, rss_after = server.usage()
    report = await listeners.finish(60)
    per_connection = (rss_after - rss_before) / max(1, connected)
    return {
        "attempted": len(tokens),
        "connected": connected,
        "failed": report.failed,
        "connect_seconds": round(connect_seconds, 1),
        "rss_before_mib": round(rss_before / 2**20, 1),
        "rss_after_mib": round(rss_after / 2**20, 1),
        "kib_per_connection": round(per_connection / 1024, 1),
        "connections_per_gib": round(2**30 / per_connection) if per_connection > 0 else None,
        "errors": report.errors[:3],
    }


async def run(stacks: list[Stack], args: argparse.Namespace) -> list[Result]:
    results = []
    count = args.connections
    with ServerProcess.baseline() as server:
        figures = await hold(server, ["baseline"] * count)
    results.append(
        Result(
            "connections",
            "websockets baseline",
            f"{count:,} idle",
            figures,
            f"{figures['kib_per_connection']} KiB each = "
            f"{figures['connections_per_gib']:,} per GiB",
            "reference",
            None,
        )
    )
    for stack in stacks:
        tokens = await _tokens(stack, count)
        with hallway_servers(stack, 1) as (server,):
            figures = await hold(server, tokens)
        per_gib = figures["connections_per_gib"] or 0
        results.append(
            Result(
                "connections",
                stack.label,
                f"{count:,} idle, authenticated",
                figures,
                f"{figures['connected']:,} held, {figures['kib_per_connection']} KiB each = "
                f"{per_gib:,} per GiB",
                ">= 40,000 per GiB",
                per_gib >= TARGET_PER_GIB and figures["connected"] == count,
            )
        )
    return results
