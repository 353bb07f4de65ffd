"""The client harness: N WebSocket clients spread over several processes.

Each client authenticates, optionally subscribes to one conversation, then counts the event
frames it receives and the latency of each: bench message bodies start with `t=<ns>`, the
sender's time.monotonic_ns() at the send call, a clock all processes of the machine share.
The same harness listens to the bare websockets baseline, which speaks the same frames.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import time
from array import array
from dataclasses import dataclass, field
from multiprocessing.sharedctypes import Synchronized
from typing import Any

import uvloop

from bench.rawws import Listener, text_frame

HANDSHAKES_AT_ONCE = 100
HANDSHAKE_TIMEOUT_SECONDS = 120.0
APP_PING_SECONDS = 20.0  # inside the server's idle timeout


def body_with_time(size: int) -> str:
    """A message body of `size` characters that carries the time of the send call."""
    stamp = f"t={time.monotonic_ns()} "
    return stamp + "x" * max(0, size - len(stamp))


@dataclass
class Report:
    """What one listener process saw."""

    process: int = 0  # which of the Listeners' processes
    connected: int = 0
    failed: int = 0
    closed_early: int = 0  # connections the server closed (a slow consumer, say)
    fewest: int = 0  # events received by the connection that received the fewest
    events: int = 0
    # In the order received: all of a batch's events come before the next batch's when the
    # sender waits for each batch's delivery (bench/fanout.py slices them by `counts()`).
    latencies_ns: array[int] = field(default_factory=lambda: array("q"))
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Plan:
    ports: list[int]  # servers on 127.0.0.1; connection i goes to ports[i % len(ports)]
    tokens: list[str]
    conversation_id: str | None  # None: idle connections that only authenticate
    expect: int  # events each connection waits for; 0 = hold until stopped
    compression: bool = True  # offer permessage-deflate (the server decides)


@dataclass(frozen=True)
class Shared:
    """What the listener processes and the one that started them share."""

    counts: Any  # events received, one slot per process
    ready: Synchronized[int]  # clients connected (and subscribed)
    done: Synchronized[int]  # clients connected or failed
    stop: Any  # set when the clients should close
    results: Any  # a Report per process


class Listeners:
    """Start with `start()`, watch `received()`, collect with `finish()`."""

    def __init__(self, plan: Plan, processes: int) -> None:
        ctx = mp.get_context("spawn")
        self.plan = plan
        self.processes = max(1, min(processes, len(plan.tokens)))
        self.shared = Shared(
            counts=ctx.Array("q", self.processes, lock=False),
            ready=ctx.Value("q", 0),
            done=ctx.Value("q", 0),
            stop=ctx.Event(),
            results=ctx.Queue(),
        )
        self.parts: list[Report] = []  # filled by finish()
        self.workers = [
            ctx.Process(
                target=_worker,
                args=(i, plan, list(range(i, len(plan.tokens), self.processes)), self.shared),
                daemon=True,
            )
            for i in range(self.processes)
        ]

    async def start(self, timeout: float) -> int:
        """Wait until every client is connected (and subscribed) or failed; the count up."""
        for worker in self.workers:
            worker.start()
        deadline = time.monotonic() + timeout
        # The counters live in shared memory: nothing to await but time.
        while self.shared.done.value < len(self.plan.tokens):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        return int(self.shared.ready.value)

    def received(self) -> int:
        return sum(self.shared.counts)

    def counts(self) -> list[int]:
        """Events received so far by each process, in process order."""
        return list(self.shared.counts)

    def pids(self) -> list[int]:
        return [w.pid for w in self.workers if w.pid is not None]

    async def finish(self, timeout: float) -> Report:
        """Stop the clients (those still waiting for events give up) and merge reports;
        each process's own stays in `parts`, in process order."""
        self.shared.stop.set()
        merged = Report(fewest=self.plan.expect)
        loop = asyncio.get_running_loop()
        for _ in self.workers:
            part: Report = await loop.run_in_executor(None, self.shared.results.get, True, timeout)
            self.parts.append(part)
            merged.connected += part.connected
            merged.failed += part.failed
            merged.closed_early += part.closed_early
            merged.fewest = min(merged.fewest, part.fewest)
            merged.events += part.events
            merged.latencies_ns.extend(part.latencies_ns)
            merged.errors.extend(part.errors[:3])
        for worker in self.workers:
            worker.join(timeout)
        self.parts.sort(key=lambda part: part.process)
        return merged


def _worker(index: int, plan: Plan, which: list[int], shared: Shared) -> None:
    report = Report(process=index, fewest=plan.expect)
    uvloop.run(_listen_all(index, plan, which, shared, report))
    shared.results.put(report)


async def _listen_all(
    index: int, plan: Plan, which: list[int], shared: Shared, report: Report
) -> None:
    loop = asyncio.get_running_loop()
    handshakes = asyncio.Semaphore(HANDSHAKES_AT_ONCE)
    opened: list[Listener] = []

    def bump(counter: Synchronized[int]) -> None:
        with counter.get_lock():
            counter.value += 1

    def on_events(count: int, latencies: list[int]) -> None:
        shared.counts[index] += count
        report.latencies_ns.extend(latencies)

    async def one(i: int) -> None:
        port = plan.ports[i % len(plan.ports)]
        try:
            async with handshakes:
                _, listener = await loop.create_connection(
                    lambda: Listener(
                        port,
                        plan.tokens[i],
                        plan.conversation_id,
                        plan.compression,
                        on_events,
                    ),
                    "127.0.0.1",
                    port,
                )
                await asyncio.wait_for(listener.opened, HANDSHAKE_TIMEOUT_SECONDS)
        except Exception as exc:
            report.failed += 1
            report.errors.append(f"{type(exc).__name__}: {exc}")
            bump(shared.done)
            return
        opened.append(listener)
        report.connected += 1
        bump(shared.ready)
        bump(shared.done)

    async def ping_forever() -> None:
        ping = text_frame({"type": "ping"})
        while True:
            await asyncio.sleep(APP_PING_SECONDS)
            for listener in opened:
                listener.send(ping)

    pinger = asyncio.create_task(ping_forever())
    await asyncio.gather(*(one(i) for i in which))
    await loop.run_in_executor(None, shared.stop.wait)
    pinger.cancel()
    for listener in opened:
        report.fewest = min(report.fewest, listener.received)
        report.events += listener.received
        report.closed_early += listener.lost
        listener.close()
