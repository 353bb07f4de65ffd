"""Fan-out: N subscribers of one conversation, messages sent as fast as delivery keeps up.

For each N the bare `websockets` baseline runs with the same N, payload and client harness;
the ratio of deliveries/s is the figure the target is about. Server CPU per delivery is
measured with and without permessage-deflate.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from contextlib import ExitStack
from dataclasses import dataclass
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
from bench.server import REDIS_URL, ServerProcess, Stack, process_usage
from bench.stats import Result, latency_ms

CONNECTIONS_PER_PERSON = 50  # a person's open tabs; keeps seeding and connect-time presence small
CONNECTIONS_PER_CLIENT_PROCESS = 2_500
TARGET_RATIO = 0.70
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


async def measure(
    servers: list[ServerProcess],
    send_one: SendOne,
    plan: Plan,
    window: int,
) -> dict[str, Any]:
    """Connect the listeners, send, wait for every delivery; figures of the whole run."""
    audience = len(plan.tokens)
    processes = math.ceil(audience / CONNECTIONS_PER_CLIENT_PROCESS) + 1
    listeners = Listeners(plan, processes)
    connected = await listeners.start(timeout=120 + audience / 50)
    if connected < audience:
        report = await listeners.finish(30)
        raise RuntimeError(f"only {connected}/{audience} connected: {report.errors[:3]}")
    before = [s.usage() for s in servers]
    clients_before = sum(process_usage(pid)[0] for pid in listeners.pids())
    sender_before = process_usage(os.getpid())[0]
    started = time.monotonic()
    await send_paced(send_one, plan.expect, listeners, audience, window)
    complete = await wait_received(listeners, plan.expect * audience, timeout=60)
    elapsed = time.monotonic() - started
    after = [s.usage() for s in servers]
    clients_cpu = sum(process_usage(pid)[0] for pid in listeners.pids()) - clients_before
    sender_cpu = process_usage(os.getpid())[0] - sender_before
    report = await listeners.finish(60)
    cpu = sum(a[0] - b[0] for a, b in zip(after, before, strict=True))
    return {
        "subscribers": audience,
        "messages": plan.expect,
        "deliveries": report.events,
        "complete": complete and report.fewest == plan.expect,
        "seconds": round(elapsed, 3),
        "deliveries_per_s": round(report.events / elapsed),
        **latency_ms([ns / 1e9 for ns in report.latencies_ns]),
        "server_cpu_percent": round(100 * cpu / elapsed, 1),
        "server_cpu_us_per_delivery": round(1e6 * cpu / max(1, report.events), 2),
        "server_rss_mib": round(sum(a[1] for a in after) / 2**20, 1),
        "closed_by_server": report.closed_early,
        "client_cpu_percent": round(100 * clients_cpu / elapsed, 1),
        "client_processes": processes,
        "sender_cpu_percent": round(100 * sender_cpu / elapsed, 1),
    }


async def run_hallway(
    stack: Stack, run: Run, servers_count: int, window: int, sender: str
) -> dict[str, Any]:
    """One Hallway run; `sender` "socket" sends over the sender's realtime socket, "http"
    POSTs each message and waits for its answer before the next."""
    people = math.ceil(run.subscribers / CONNECTIONS_PER_PERSON) + 1
    room = await seeded_room(stack, people)
    settings = {"ws_compression": "true" if run.compression else "false"}
    with hallway_servers(stack, servers_count, **settings) as servers:
        plan = Plan(
            ports=[s.port for s in servers],
            tokens=listener_tokens(room, run.subscribers),
            conversation_id=room.conversation_id,
            expect=run.messages,
        )
        if sender == "http":
            send_one, http = hallway_sender(servers[0], room)
            try:
                return await measure(servers, send_one, plan, window)
            finally:
                http.close()
        socket = await SocketSender.open(servers[0], room)
        try:
            return await measure(servers, socket.send_one, plan, window)
        finally:
            await socket.close()


async def run_baseline(run: Run, window: int, processes: int = 1) -> dict[str, Any]:
    """The bare library's run; over several processes they share the audience through
    Redis, as Hallway's do (bench/baseline_websockets.py)."""
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
            expect=run.messages,
        )
        try:
            return await measure(servers, send_one, plan, window)
        finally:
            socket.close()


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


async def run(stacks: list[Stack], args: argparse.Namespace) -> list[Result]:
    """Each Hallway run is paired with a baseline run just before it, so that both see the
    same machine (other work on it moves both figures, and not their ratio)."""
    results: list[Result] = []
    for stack in stacks:
        for servers_count in (1, 2):
            if servers_count == 2:
                stack = Stack(stack.backend, stack.data_dir, redis=True)
            for r in runs(args):
                if servers_count == 2 and r.compression:
                    continue
                baseline = await run_baseline(r, args.window)
                # Context, not the target: the bare library over as many processes.
                alike = (
                    await run_baseline(r, args.window, servers_count) if servers_count > 1 else None
                )
                figures = await run_hallway(
                    stack, r, servers_count, args.window, args.fanout_sender
                )
                ratio = figures["deliveries_per_s"] / baseline["deliveries_per_s"]
                figures["ratio_to_baseline"] = round(ratio, 2)
                figures["baseline"] = baseline
                if alike is not None:
                    figures["baseline_same_processes"] = alike
                p99_applies = r.subscribers == 1000
                met = ratio >= TARGET_RATIO and figures["complete"]
                if p99_applies:
                    met = met and figures["p99_ms"] <= TARGET_P99_MS
                results.append(
                    Result(
                        "fan-out",
                        stack.label,
                        _variant(r, servers_count),
                        figures,
                        f"{figures['deliveries_per_s']:,} deliveries/s = {ratio:.0%} of "
                        f"baseline's {baseline['deliveries_per_s']:,}; p50 {figures['p50_ms']} "
                        f"ms, p99 {figures['p99_ms']} ms; server "
                        f"{figures['server_cpu_us_per_delivery']} us CPU/delivery "
                        f"(baseline {baseline['server_cpu_us_per_delivery']})"
                        + ("" if alike is None else _against_alike(figures, alike)),
                        ">= 70% of baseline" + (", p99 <= 100 ms" if p99_applies else ""),
                        met,
                    )
                )
    return results
