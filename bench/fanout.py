"""Fan-out: N subscribers of one conversation, messages sent as fast as delivery keeps up.

For each N the bare `websockets` baseline runs with the same N, payload and client harness;
the ratio of deliveries/s is the figure the target is about. Both stay connected while they
take turns: `--fanout-rounds` batches each, the order reversed every other round, so that
the two batches of a pair are seconds apart and what else the machine does falls on both.
The row is the pair with the median ratio, with every pair's ratio beside it. Server CPU
per delivery is measured with and without permessage-deflate.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from bench.harness import (
    SendOne,
    SocketSender,
    baseline_sender,
    hallway_sender,
    hallway_servers,
    listener_tokens,
    seeded_room,
    send_paced,
    wait_received,
)
from bench.listeners import Listeners, Plan
from bench.server import REDIS_URL, ServerProcess, Stack, machine_cpu, process_usage
from bench.stats import Result, latency_ms

CONNECTIONS_PER_PERSON = 50  # a person's open tabs; keeps seeding and connect-time presence small
CONNECTIONS_PER_CLIENT_PROCESS = 2_500
TARGET_RATIO = 0.70
CORES = os.cpu_count() or 1
TARGET_P99_MS = 100.0


@dataclass(frozen=True)
class Run:
    subscribers: int
    messages: int
    compression: bool


def runs(args: argparse.Namespace) -> list[Run]:
    """Each N with deflate off; N = 1,000 (or the middle N) also with deflate on."""
    sizes: list[int] = args.fanout_n
    found = [Run(n, messages_for(n, args.fanout_deliveries), False) for n in sizes]
    middle = 1000 if 1000 in sizes else sizes[len(sizes) // 2]
    found.append(Run(middle, messages_for(middle, args.fanout_deliveries), True))
    return found


def messages_for(subscribers: int, deliveries: int) -> int:
    return max(20, deliveries // subscribers)


@dataclass
class Side:
    """One setup under measurement, connected for all of its batches: its servers, its
    sender and its listeners. `batches` gets each batch's figures; the latency percentiles
    and the check that no connection missed anything come with `finish()`."""

    servers: list[ServerProcess]
    send_one: SendOne
    listeners: Listeners
    sent: int = 0
    marks: list[list[int]] = field(default_factory=list)  # counts per process after each batch
    batches: list[dict[str, Any]] = field(default_factory=list)

    @property
    def audience(self) -> int:
        return len(self.listeners.plan.tokens)

    async def batch(self, messages: int, window: int) -> None:
        """Send `messages` more as fast as delivery keeps up and wait for every delivery."""
        listeners = self.listeners
        before = [s.usage() for s in self.servers]
        clients_before = sum(process_usage(pid)[0] for pid in listeners.pids())
        sender_before = process_usage(os.getpid())[0]
        received_before = listeners.received()
        machine_before = machine_cpu()
        started = time.monotonic()
        await send_paced(self.send_one, messages, listeners, self.audience, window, self.sent)
        self.sent += messages
        complete = await wait_received(listeners, self.sent * self.audience, timeout=60)
        elapsed = time.monotonic() - started
        busy, stolen = (a - b for a, b in zip(machine_cpu(), machine_before, strict=True))
        after = [s.usage() for s in self.servers]
        clients_cpu = sum(process_usage(pid)[0] for pid in listeners.pids()) - clients_before
        sender_cpu = process_usage(os.getpid())[0] - sender_before
        deliveries = listeners.received() - received_before
        self.marks.append(listeners.counts())
        cpu = sum(a[0] - b[0] for a, b in zip(after, before, strict=True))
        self.batches.append(
            {
                "subscribers": self.audience,
                "messages": messages,
                "deliveries": deliveries,
                "complete": complete,
                "seconds": round(elapsed, 3),
                "deliveries_per_s": round(deliveries / elapsed),
                "server_cpu_percent": round(100 * cpu / elapsed, 1),
                "server_cpu_us_per_delivery": round(1e6 * cpu / max(1, deliveries), 2),
                "server_rss_mib": round(sum(a[1] for a in after) / 2**20, 1),
                "client_cpu_percent": round(100 * clients_cpu / elapsed, 1),
                "client_processes": listeners.processes,
                "sender_cpu_percent": round(100 * sender_cpu / elapsed, 1),
                # Of all cores (200 = both busy), databases and kernel included: whether
                # the batch was bound by CPU or by waiting (a commit, the window).
                "machine_busy_percent": round(100 * busy / elapsed, 1),
                "machine_steal_percent": round(100 * stolen / elapsed, 1),
            }
        )

    async def finish(self) -> None:
        """Close the listeners; each batch gets the latencies of its own deliveries (each
        process received a batch's events before the next batch's) and the check that every
        connection received every message."""
        report = await self.listeners.finish(60)
        parts = self.listeners.parts
        starts = [0] * len(parts)
        for figures, ends in zip(self.batches, self.marks, strict=True):
            seconds = [
                ns / 1e9
                for part, start, end in zip(parts, starts, ends, strict=True)
                for ns in part.latencies_ns[start:end]
            ]
            figures.update(latency_ms(seconds))
            figures["complete"] = figures["complete"] and report.fewest == self.sent
            figures["closed_by_server"] = report.closed_early
            starts = ends


@asynccontextmanager
async def side_of(
    servers: list[ServerProcess], send_one: SendOne, plan: Plan
) -> AsyncIterator[Side]:
    """Connect the listeners; on the way out, close them and complete the batches' figures."""
    audience = len(plan.tokens)
    processes = math.ceil(audience / CONNECTIONS_PER_CLIENT_PROCESS) + 1
    listeners = Listeners(plan, processes)
    connected = await listeners.start(timeout=120 + audience / 50)
    if connected < audience:
        report = await listeners.finish(30)
        raise RuntimeError(f"only {connected}/{audience} connected: {report.errors[:3]}")
    side = Side(servers, send_one, listeners)
    try:
        yield side
    finally:
        await side.finish()


@asynccontextmanager
async def hallway_side(
    stack: Stack, run: Run, servers_count: int, sender: str, expect: int
) -> AsyncIterator[Side]:
    """Hallway's servers, listeners and sender; `sender` "socket" sends over the sender's
    realtime socket, "http" POSTs each message and waits for its answer before the next."""
    people = math.ceil(run.subscribers / CONNECTIONS_PER_PERSON) + 1
    room = await seeded_room(stack, people)
    settings = {"ws_compression": "true" if run.compression else "false"}
    with hallway_servers(stack, servers_count, **settings) as servers:
        plan = Plan(
            ports=[s.port for s in servers],
            tokens=listener_tokens(room, run.subscribers),
            conversation_id=room.conversation_id,
            expect=expect,
        )
        if sender == "http":
            send_one, http = hallway_sender(servers[0], room)
            try:
                async with side_of(servers, send_one, plan) as side:
                    yield side
            finally:
                http.close()
        else:
            socket = await SocketSender.open(servers[0], room)
            try:
                async with side_of(servers, socket.send_one, plan) as side:
                    yield side
            finally:
                await socket.close()


@asynccontextmanager
async def baseline_side(run: Run, expect: int, processes: int = 1) -> AsyncIterator[Side]:
    """The bare library's servers, listeners and publisher; over several processes they
    share the audience through Redis, as Hallway's do (bench/baseline_websockets.py)."""
    redis_url = REDIS_URL if processes > 1 else None
    with ExitStack() as running:
        servers = [
            running.enter_context(ServerProcess.baseline(run.compression, redis_url))
            for _ in range(processes)
        ]
        send_one, socket = await baseline_sender(servers[0])
        plan = Plan(
            ports=[server.port for server in servers],
            tokens=["listener"] * run.subscribers,
            conversation_id="baseline",
            expect=expect,
        )
        try:
            async with side_of(servers, send_one, plan) as side:
                yield side
        finally:
            socket.close()


@dataclass(frozen=True)
class Pairs:
    """Hallway's batches and the baseline's, taken in turns; `alike` is the bare library
    over as many processes as Hallway's, when that is more than one."""

    hallway: list[dict[str, Any]]
    baseline: list[dict[str, Any]]
    alike: list[dict[str, Any]] | None

    @property
    def ratios(self) -> list[float]:
        return [
            h["deliveries_per_s"] / b["deliveries_per_s"]
            for h, b in zip(self.hallway, self.baseline, strict=True)
        ]

    @property
    def median(self) -> int:
        """The round whose ratio is the median (the lower one of an even count)."""
        ratios = self.ratios
        return sorted(range(len(ratios)), key=ratios.__getitem__)[(len(ratios) - 1) // 2]


async def measure_pairs(
    stack: Stack, run: Run, servers_count: int, args: argparse.Namespace
) -> Pairs:
    """Every setup connected at once, then `args.fanout_rounds` rounds in which each sends
    one batch in turn, the order reversed every other round."""
    expect = run.messages * args.fanout_rounds
    async with AsyncExitStack() as sides:
        baseline = await sides.enter_async_context(baseline_side(run, expect))
        alike = (
            await sides.enter_async_context(baseline_side(run, expect, servers_count))
            if servers_count > 1
            else None
        )
        hallway = await sides.enter_async_context(
            hallway_side(stack, run, servers_count, args.fanout_sender, expect)
        )
        turn = [baseline, *([alike] if alike is not None else []), hallway]
        for k in range(args.fanout_rounds):
            for side in turn if k % 2 == 0 else reversed(turn):
                await side.batch(run.messages, args.window)
    return Pairs(hallway.batches, baseline.batches, None if alike is None else alike.batches)


def _against_alike(figures: dict[str, Any], alike: dict[str, Any]) -> str:
    share = figures["deliveries_per_s"] / alike["deliveries_per_s"]
    return (
        f"; the bare library over as many processes and Redis: "
        f"{alike['deliveries_per_s']:,}/s, {alike['server_cpu_us_per_delivery']} us CPU/delivery "
        f"(Hallway at {share:.0%} of it)"
    )


def _variant(run: Run, servers_count: int) -> str:
    parts = [f"N={run.subscribers}"]
    if servers_count > 1:
        parts.append(f"{servers_count} processes")
    parts.append("deflate" if run.compression else "no deflate")
    return ", ".join(parts)


def _result(stack: Stack, run: Run, servers_count: int, pairs: Pairs) -> Result:
    """The row: the round with the median ratio, and every round's ratio beside it. The
    target is met when that median reaches it, every round delivered everything, and (at
    N = 1,000) every round's p99 is within its bound."""
    middle = pairs.median
    ratios = pairs.ratios
    figures = dict(pairs.hallway[middle])
    baseline = pairs.baseline[middle]
    figures["ratio_to_baseline"] = round(ratios[middle], 2)
    figures["baseline"] = baseline
    figures["rounds"] = [
        {
            "ratio_to_baseline": round(ratio, 2),
            "deliveries_per_s": h["deliveries_per_s"],
            "baseline_deliveries_per_s": b["deliveries_per_s"],
            "p99_ms": h["p99_ms"],
        }
        for ratio, h, b in zip(ratios, pairs.hallway, pairs.baseline, strict=True)
    ]
    alike = None if pairs.alike is None else pairs.alike[middle]
    if alike is not None:
        figures["baseline_same_processes"] = alike
    p99_applies = run.subscribers == 1000
    met = ratios[middle] >= TARGET_RATIO and all(h["complete"] for h in pairs.hallway)
    if p99_applies:
        met = met and max(h["p99_ms"] for h in pairs.hallway) <= TARGET_P99_MS
    rounds = ""
    if len(ratios) > 1:
        rounds = f" (median of {len(ratios)} pairs: {', '.join(f'{x:.0%}' for x in ratios)})"
    return Result(
        "fan-out",
        stack.label,
        _variant(run, servers_count),
        figures,
        f"{figures['deliveries_per_s']:,} deliveries/s = {ratios[middle]:.0%} of "
        f"baseline's {baseline['deliveries_per_s']:,}{rounds}; p50 {figures['p50_ms']} "
        f"ms, p99 {figures['p99_ms']} ms; server "
        f"{figures['server_cpu_us_per_delivery']} us CPU/delivery "
        f"(baseline {baseline['server_cpu_us_per_delivery']}); machine busy "
        f"{figures['machine_busy_percent']:.0f}% of {100 * CORES}% "
        f"(baseline {baseline['machine_busy_percent']:.0f}%)"
        + ("" if alike is None else _against_alike(figures, alike)),
        ">= 70% of baseline" + (", p99 <= 100 ms" if p99_applies else ""),
        met,
    )


async def run(stacks: list[Stack], args: argparse.Namespace) -> list[Result]:
    """Hallway's batches alternate with the baseline's, seconds apart, so that both see the
    same machine (other work on it moves both figures, and not their ratio)."""
    results: list[Result] = []
    for stack in stacks:
        for servers_count in (1, 2):
            if servers_count == 2:
                stack = stack.with_redis()
            for r in runs(args):
                if servers_count == 2 and r.compression:
                    continue
                pairs = await measure_pairs(stack, r, servers_count, args)
                results.append(_result(stack, r, servers_count, pairs))
    return results
