"""History: page backwards through a conversation of 1,000,000 messages, 50 at a time.

Keyset paging on seq must make the deepest page cost what the newest does. Figures: the
time of the first (newest) and the last (oldest) page, and pages/s for one reader following
next_cursor and for 10 readers at once, each scrolling from a different depth: on one server
process, then spread over `--history-processes` processes on the same database (as behind a
load balancer; with the Redis broker, as such a deployment runs).
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bench import seed
from bench.harness import hallway_servers
from bench.http import Http
from bench.server import Stack, fresh_database
from bench.stats import Result, latency_ms, percentile
from hallway.domain.cursors import encode_cursor

LIMIT = 50
READERS = 10
REPEAT = 50  # timings of the first and of the last page
TARGET_PAGES_PER_S = 1000


async def _seeded(stack: Stack, count: int) -> tuple[seed.Room, float]:
    db = await fresh_database(stack)
    try:
        started = time.monotonic()
        room = await seed.room(db, 1)
        await seed.history(db, room, count)
        return room, time.monotonic() - started
    finally:
        await db.dispose()


async def _page(http: Http, path: str, before: int | None) -> tuple[float, int | None]:
    """(seconds, the seq to pass as `before` next or None at the start of history)."""
    query = f"{path}?limit={LIMIT}"
    if before is not None:
        query += f"&before={encode_cursor('seq', before)}"
    started = time.perf_counter()
    page = await http.json("GET", query)
    elapsed = time.perf_counter() - started
    assert len(page["messages"]) == LIMIT or not page["has_more"]
    return elapsed, page["messages"][0]["seq"] if page["has_more"] else None


async def _scroll(http: Http, path: str, before: int | None, pages: int) -> list[float]:
    """Follow the pages back from `before` for `pages` pages; each page's time."""
    times = []
    for _ in range(pages):
        elapsed, before = await _page(http, path, before)
        times.append(elapsed)
        if before is None:
            break
    return times


async def _readers(ports: list[int], token: str, path: str, count: int, pages: int) -> float:
    """Pages/s of READERS readers at once, each scrolling back from a different depth,
    reader k on ports[k % len(ports)]."""
    readers = [Http(ports[k % len(ports)], token) for k in range(READERS)]
    depths = [count - k * (count // READERS) + 1 for k in range(READERS)]
    started = time.monotonic()
    try:
        scrolled = await asyncio.gather(
            *(
                _scroll(h, path, depth, pages // READERS)
                for h, depth in zip(readers, depths, strict=True)
            )
        )
    finally:
        for h in readers:
            h.close()
    return sum(len(s) for s in scrolled) / (time.monotonic() - started)


async def measure(stack: Stack, count: int, pages: int, processes: int) -> Result:
    room, seed_seconds = await _seeded(stack, count)
    path = f"/api/v1/conversations/{room.conversation_id}/messages"
    token = room.people[0].token
    with hallway_servers(stack, 1) as (server,):
        http = Http(server.port, token)
        try:
            await _scroll(http, path, None, 20)  # warm up
            first = [(await _page(http, path, None))[0] for _ in range(REPEAT)]
            last = [(await _page(http, path, LIMIT + 1))[0] for _ in range(REPEAT)]
            cpu_before, _ = server.usage()
            started = time.monotonic()
            one_reader = await _scroll(http, path, None, pages)
            one_rate = len(one_reader) / (time.monotonic() - started)
            cpu_per_page = (server.usage()[0] - cpu_before) / len(one_reader)
        finally:
            http.close()
        many_rate = await _readers([server.port], token, path, count, pages)
    spread_rate = None
    if processes > 1:
        several = stack.with_redis()
        with hallway_servers(several, processes) as servers:
            ports = [s.port for s in servers]
            await _readers(ports, token, path, count, READERS * 5)  # warm up
            spread_rate = await _readers(ports, token, path, count, pages)
    first_ms = percentile(first, 50) * 1000
    last_ms = percentile(last, 50) * 1000
    figures = {
        "messages": count,
        "seed_seconds": round(seed_seconds, 1),
        "first_page_p50_ms": round(first_ms, 2),
        "last_page_p50_ms": round(last_ms, 2),
        "last_to_first": round(last_ms / first_ms, 2),
        "pages_per_s_1_reader": round(one_rate),
        "server_cpu_ms_per_page": round(1000 * cpu_per_page, 3),
        f"pages_per_s_{READERS}_readers": round(many_rate),
        **{f"page_{k}": v for k, v in latency_ms(one_reader).items()},
    }
    rates = f"{round(one_rate):,} pages/s (1 reader), {round(many_rate):,} ({READERS} readers)"
    if spread_rate is not None:
        figures[f"pages_per_s_{READERS}_readers_{processes}_processes"] = round(spread_rate)
        rates += f", {round(spread_rate):,} ({READERS} readers, {processes} processes)"
    best = max(one_rate, many_rate, spread_rate or 0.0)
    return Result(
        "history",
        stack.label,
        f"{count:,} messages, limit {LIMIT}",
        figures,
        f"{rates}; first page {first_ms:.2f} ms, last {last_ms:.2f} ms; "
        f"server {1000 * cpu_per_page:.2f} ms CPU/page",
        ">= 1,000 pages/s, last page <= 2x first",
        best >= TARGET_PAGES_PER_S and last_ms <= 2 * first_ms,
    )


async def run(stacks: list[Stack], args: argparse.Namespace) -> list[Result]:
    return [
        await measure(stack, args.history_messages, args.history_pages, args.history_processes)
        for stack in stacks
    ]
