"""Send: one person sends messages one at a time, then 10 at a time; msgs/s and the latency
of each POST (from the request to the full response, which comes after the commit)."""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

from bench.harness import BODY_CHARS, hallway_servers, seeded_room
from bench.http import Http
from bench.listeners import body_with_time
from bench.server import Stack
from bench.stats import Result, latency_ms

TARGETS = {1: 1000, 10: 2000}  # msgs/s


async def _sender(port: int, token: str, path: str, count: int, latencies: list[float]) -> None:
    http = Http(port, token)
    run = uuid.uuid4().hex[:8]
    try:
        for k in range(count):
            body = {"body": body_with_time(BODY_CHARS), "client_msg_id": f"{run}-{k}"}
            started = time.perf_counter()
            await http.json("POST", path, body, expect=201)
            latencies.append(time.perf_counter() - started)
    finally:
        http.close()


def _variant(concurrency: int, processes: int) -> str:
    variant = "one at a time" if concurrency == 1 else f"{concurrency} at a time"
    return variant if processes == 1 else f"{variant}, {processes} processes"


async def measure(stack: Stack, args: argparse.Namespace, processes: int) -> list[Result]:
    """Sends through `processes` servers on one database (as behind a load balancer),
    sender k on server k mod `processes`; the server CPU is theirs together."""
    results = []
    room = await seeded_room(stack, 2)
    path = f"/api/v1/conversations/{room.conversation_id}/messages"
    token = room.people[0].token
    with hallway_servers(stack, processes) as servers:
        for server in servers:
            await _sender(server.port, token, path, 50, [])  # warm up
        for concurrency in (1, 10):
            latencies: list[float] = []
            each = args.send_messages // concurrency
            cpu_before = sum(server.usage()[0] for server in servers)
            started = time.monotonic()
            await asyncio.gather(
                *(
                    _sender(servers[k % processes].port, token, path, each, latencies)
                    for k in range(concurrency)
                )
            )
            elapsed = time.monotonic() - started
            cpu = sum(server.usage()[0] for server in servers) - cpu_before
            rate = round(len(latencies) / elapsed)
            figures = {
                "messages": len(latencies),
                "processes": processes,
                "msgs_per_s": rate,
                "server_cpu_ms_per_message": round(1000 * cpu / len(latencies), 3),
                "server_cpu_percent": round(100 * cpu / elapsed, 1),
            }
            figures.update(latency_ms(latencies))
            results.append(
                Result(
                    "send",
                    stack.label,
                    _variant(concurrency, processes),
                    figures,
                    f"{rate:,} msgs/s, p50 {figures['p50_ms']} ms, "
                    f"p95 {figures['p95_ms']} ms, p99 {figures['p99_ms']} ms; "
                    f"server {figures['server_cpu_ms_per_message']} ms CPU/msg",
                    f">= {TARGETS[concurrency]:,} msgs/s",
                    rate >= TARGETS[concurrency],
                )
            )
    return results


async def run(stacks: list[Stack], args: argparse.Namespace) -> list[Result]:
    results = []
    for stack in stacks:
        results.extend(await measure(stack, args, 1))
        if args.send_processes > 1:
            # More than one process needs the Redis broker for their realtime clients.
            several = stack.with_redis()
            results.extend(await measure(several, args, args.send_processes))
    return results
