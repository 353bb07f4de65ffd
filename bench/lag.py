"""Event-loop lag: how late the server's loop gets round to its work while slow reads run
beside live fan-out.

One server process holds a conversation of `--lag-messages` messages (Zipf words, as in the
search scenario) and LISTENERS live sockets on it. Over `--lag-seconds` a sender posts
RATE messages a second, each fanned out to every listener, while beside it one reader
searches back to back (a rare word, a common one, two words, a prefix) and another pages
back through the whole history, 100 messages a page. The server's own lag monitor
(`hallway_event_loop_lag_seconds` on /metrics) gives the figure: its histogram over the
run, read before and after. p99 is the bucket bound under which 99 % of the samples fell.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from urllib.parse import quote

from bench import seed
from bench.harness import hallway_sender, hallway_servers, listener_tokens, wait_received
from bench.history import LIMIT as HISTORY_LIMIT
from bench.http import Http
from bench.listeners import Listeners, Plan
from bench.scrape import METRICS_TOKEN, scrape
from bench.search import query_mix
from bench.server import Stack, fresh_database
from bench.stats import Result, latency_ms
from bench.words import body_maker, vocabulary
from hallway.domain.cursors import encode_cursor

LISTENERS = 200
RATE = 50.0  # messages a second: 10,000 deliveries a second
TARGET_P99_MS = 10.0
LAG_METRIC = "hallway_event_loop_lag_seconds"

Histogram = dict[float, float]
"""Cumulative sample counts by bucket bound (seconds; inf last)."""


async def _seeded(stack: Stack, count: int, words: list[str]) -> seed.Room:
    db = await fresh_database(stack)
    try:
        room = await seed.room(db, LISTENERS + 1)
        await seed.history(db, room, count, body_maker(words))
        return room
    finally:
        await db.dispose()


async def _lag_histogram(metrics: Http) -> Histogram:
    buckets = (await scrape(metrics)).get(f"{LAG_METRIC}_bucket")
    if not buckets:
        raise RuntimeError(f"/metrics has no {LAG_METRIC}")
    return {float(labels["le"]): value for labels, value in buckets}


def _percentile_bound(before: Histogram, after: Histogram, q: float) -> tuple[float, int]:
    """(the smallest bucket bound holding q % of the samples taken in between, the number
    of those samples)."""
    counts = {bound: after[bound] - before.get(bound, 0.0) for bound in sorted(after)}
    total = counts[float("inf")]
    for bound, cumulative in counts.items():
        if cumulative >= total * q / 100:
            return bound, int(total)
    return float("inf"), int(total)


async def _search_forever(http: Http, queries: list[str], times: list[float]) -> None:
    while True:
        for q in queries:
            started = time.perf_counter()
            await http.json("GET", f"/api/v1/search?q={quote(q)}")
            times.append(time.perf_counter() - started)


async def _scan_history_forever(http: Http, path: str, times: list[float]) -> None:
    while True:
        before: int | None = None
        while True:
            query = f"{path}?limit={HISTORY_LIMIT}"
            if before is not None:
                query += f"&before={encode_cursor('seq', before)}"
            started = time.perf_counter()
            page = await http.json("GET", query)
            times.append(time.perf_counter() - started)
            if not page["has_more"]:
                break
            before = page["messages"][0]["seq"]


async def measure(stack: Stack, count: int, seconds: float) -> Result:
    words = vocabulary()
    room = await _seeded(stack, count, words)
    messages = int(seconds * RATE)
    search_times: list[float] = []
    page_times: list[float] = []
    with hallway_servers(stack, 1, metrics_token=METRICS_TOKEN) as (server,):
        metrics = Http(server.port, METRICS_TOKEN)
        searcher = Http(server.port, room.people[0].token)
        scanner = Http(server.port, room.people[0].token)
        send_one, sender = hallway_sender(server, room)
        plan = Plan(
            ports=[server.port],
            tokens=listener_tokens(room, LISTENERS),
            conversation_id=room.conversation_id,
            expect=messages,
        )
        listeners = Listeners(plan, processes=1)
        path = f"/api/v1/conversations/{room.conversation_id}/messages"
        slow_reads: list[asyncio.Task[None]] = []
        try:
            await listeners.start(timeout=60)
            before = await _lag_histogram(metrics)
            slow_reads = [
                asyncio.create_task(
                    _search_forever(searcher, list(query_mix(words).values()), search_times)
                ),
                asyncio.create_task(_scan_history_forever(scanner, path, page_times)),
            ]
            started = time.monotonic()
            for k in range(messages):
                await asyncio.sleep(max(0.0, started + k / RATE - time.monotonic()))
                await send_one(k)
            for task in slow_reads:
                task.cancel()
            await asyncio.gather(*slow_reads, return_exceptions=True)
            after = await _lag_histogram(metrics)
            await wait_received(listeners, messages * LISTENERS, timeout=30)
        finally:
            for task in slow_reads:
                task.cancel()
            for http in (metrics, searcher, scanner, sender):
                http.close()
            report = await listeners.finish(60)
    p99_bound, samples = _percentile_bound(before, after, 99)
    p50_bound, _ = _percentile_bound(before, after, 50)
    delivery = latency_ms([ns / 1e9 for ns in report.latencies_ns])
    expected = messages * LISTENERS
    figures: dict[str, object] = {
        "messages_in_history": count,
        "listeners": LISTENERS,
        "messages_sent": messages,
        "lag_samples": samples,
        "lag_p50_at_most_ms": p50_bound * 1000,
        "lag_p99_at_most_ms": p99_bound * 1000,
        "searches": len(search_times),
        "history_pages": len(page_times),
        "received": report.events,
        "expected": expected,
        **{f"search_{k}": v for k, v in latency_ms(search_times).items()},
        **{f"page_{k}": v for k, v in latency_ms(page_times).items()},
        **{f"delivery_{k}": v for k, v in delivery.items()},
    }
    return Result(
        "event-loop lag",
        stack.label,
        f"{count:,} messages, search and history scan beside fan-out to {LISTENERS}",
        figures,
        f"lag p99 <= {p99_bound * 1000:g} ms, p50 <= {p50_bound * 1000:g} ms "
        f"({samples:,} samples); {len(search_times):,} searches "
        f"(p99 {figures['search_p99_ms']} ms), {len(page_times):,} pages; "
        f"delivery p99 {delivery['p99_ms']} ms, {report.events:,}/{expected:,} received",
        f"lag p99 <= {TARGET_P99_MS:g} ms, nothing lost",
        p99_bound * 1000 <= TARGET_P99_MS and report.events == expected,
    )


async def run(stacks: list[Stack], args: argparse.Namespace) -> list[Result]:
    return [await measure(stack, args.lag_messages, args.lag_seconds) for stack in stacks]
