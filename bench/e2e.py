"""End-to-end: 50 listeners on WebSockets while one person sends 200 messages at 20/s; the
time from each send call to each listener's receipt, and whether every frame arrived."""

from __future__ import annotations

import argparse
import asyncio
import time

from bench.harness import (
    hallway_sender,
    hallway_servers,
    listener_tokens,
    seeded_room,
    wait_received,
)
from bench.http import Http
from bench.listeners import Listeners, Plan
from bench.scrape import METRICS_TOKEN, scrape, total
from bench.server import Stack
from bench.stats import Result, latency_ms

LISTENERS = 50
MESSAGES = 200
RATE = 20.0  # messages per second
TARGET_P50_MS, TARGET_P99_MS = 5.0, 25.0
PUBLISHED, DELIVERED = "hallway_events_published_total", "hallway_events_delivered_total"


async def measure(stack: Stack, servers_count: int) -> Result:
    room = await seeded_room(stack, LISTENERS + 1)
    with hallway_servers(stack, servers_count, metrics_token=METRICS_TOKEN) as servers:
        send_one, http = hallway_sender(servers[0], room)
        scrapers = [Http(s.port, METRICS_TOKEN) for s in servers]
        plan = Plan(
            ports=[s.port for s in servers],
            tokens=listener_tokens(room, LISTENERS),
            conversation_id=room.conversation_id,
            expect=MESSAGES,
        )
        listeners = Listeners(plan, processes=1)
        try:
            await listeners.start(timeout=60)
            before = [await scrape(m) for m in scrapers]
            started = time.monotonic()
            for k in range(MESSAGES):
                await asyncio.sleep(max(0.0, started + k / RATE - time.monotonic()))
                await send_one(k)
            await wait_received(listeners, MESSAGES * LISTENERS, timeout=30)
            after = [await scrape(m) for m in scrapers]
        finally:
            http.close()
            for m in scrapers:
                m.close()
            report = await listeners.finish(60)
    expected = MESSAGES * LISTENERS
    # What the servers counted themselves (/metrics), over the same stretch.
    counted = {
        name: round(
            sum(total(a, name) - total(b, name) for a, b in zip(after, before, strict=True))
        )
        for name in (PUBLISHED, DELIVERED)
    }
    figures = {
        "listeners": LISTENERS,
        "messages": MESSAGES,
        "received": report.events,
        "expected": expected,
        **latency_ms([ns / 1e9 for ns in report.latencies_ns]),
        "metrics_events_published": counted[PUBLISHED],
        "metrics_events_delivered": counted[DELIVERED],
    }
    met = (
        report.events == expected
        and figures["p50_ms"] <= TARGET_P50_MS
        and figures["p99_ms"] <= TARGET_P99_MS
    )
    return Result(
        "end-to-end",
        stack.label,
        f"{servers_count} process" + ("es" if servers_count > 1 else ""),
        figures,
        f"p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms, p99 {figures['p99_ms']} ms, "
        f"{report.events:,}/{expected:,} received; /metrics counted "
        f"{counted[PUBLISHED]:,} published, {counted[DELIVERED]:,} delivered",
        "p50 <= 5 ms, p99 <= 25 ms, nothing lost",
        met,
    )


async def run(stacks: list[Stack], args: argparse.Namespace) -> list[Result]:
    results = []
    for stack in stacks:
        results.append(await measure(stack, 1))
        results.append(await measure(stack.with_redis(), 2))
    return results
