"""Search: a participant of a 1,000,000-message conversation searches it.

The bodies are words of a Zipf vocabulary (bench/words.py), so words range from one in two
messages to a dozen in the whole conversation. The mix: a rare word, a common word (about
1 message in 10), two words together, and a 4-letter prefix; first page (20 results) of
each, round-robin. Figures: p50/p95/p99 per kind and over the mix, and server CPU per query.
"""

from __future__ import annotations

import argparse
import time
from urllib.parse import quote

from bench import seed
from bench.harness import hallway_servers
from bench.http import Http
from bench.server import Stack, fresh_database
from bench.stats import Result, latency_ms, percentile
from bench.words import body_maker, vocabulary

TARGET_P95_MS = 100


def query_mix(words: list[str]) -> dict[str, str]:
    """Queries by kind, chosen by rank in the vocabulary (most frequent first)."""
    return {
        "rare": words[-1],  # 17 messages of 1,000,000
        "common": words[8],  # 9 %
        "two_words": f"{words[30]} {words[60]}",  # 2.8 % and 1.4 %, together 435
        "prefix": words[100][:4],  # starts words of 0.9 % of the messages
    }


async def _seeded(stack: Stack, count: int, words: list[str]) -> tuple[seed.Room, float]:
    db = await fresh_database(stack)
    try:
        started = time.monotonic()
        room = await seed.room(db, 1)
        await seed.history(db, room, count, body_maker(words))
        return room, time.monotonic() - started
    finally:
        await db.dispose()


async def _query(http: Http, q: str) -> tuple[float, int]:
    started = time.perf_counter()
    page = await http.json("GET", f"/api/v1/search?q={quote(q)}")
    return time.perf_counter() - started, len(page["results"])


async def measure(stack: Stack, count: int, rounds: int) -> Result:
    words = vocabulary()
    room, seed_seconds = await _seeded(stack, count, words)
    mix = query_mix(words)
    times: dict[str, list[float]] = {kind: [] for kind in mix}
    found: dict[str, int] = {}
    with hallway_servers(stack, 1) as (server,):
        http = Http(server.port, room.people[0].token)
        try:
            for q in mix.values():  # warm up
                await _query(http, q)
            cpu_before, _ = server.usage()
            for _ in range(rounds):
                for kind, q in mix.items():
                    elapsed, found[kind] = await _query(http, q)
                    times[kind].append(elapsed)
            cpu_per_query = (server.usage()[0] - cpu_before) / (rounds * len(mix))
        finally:
            http.close()
    every = [t for kind_times in times.values() for t in kind_times]
    p95_ms = percentile(every, 95) * 1000
    figures: dict[str, object] = {
        "messages": count,
        "seed_seconds": round(seed_seconds, 1),
        "queries": mix,
        "results_on_first_page": found,
        "server_cpu_ms_per_query": round(1000 * cpu_per_query, 3),
        **{f"all_{k}": v for k, v in latency_ms(every).items()},
    }
    for kind, kind_times in times.items():
        figures.update({f"{kind}_{k}": v for k, v in latency_ms(kind_times).items()})
    by_kind = ", ".join(
        f"{kind} p95 {percentile(kind_times, 95) * 1000:.1f}" for kind, kind_times in times.items()
    )
    return Result(
        "search",
        stack.label,
        f"{count:,} messages, first page of 20, rare/common/two words/prefix",
        figures,
        f"p50 {percentile(every, 50) * 1000:.2f} / p95 {p95_ms:.2f} / "
        f"p99 {percentile(every, 99) * 1000:.2f} ms over the mix ({by_kind} ms); "
        f"server {1000 * cpu_per_query:.2f} ms CPU/query",
        f"p95 <= {TARGET_P95_MS} ms",
        p95_ms <= TARGET_P95_MS,
    )


async def run(stacks: list[Stack], args: argparse.Namespace) -> list[Result]:
    return [await measure(stack, args.search_messages, args.search_rounds) for stack in stacks]
