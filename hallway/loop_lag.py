"""How late the event loop runs: the lag every request, frame and timer of the process waits
on, as hallway_event_loop_lag_seconds.

A timer is set for every INTERVAL_SECONDS; when it runs, how much later than due it ran is
recorded, and the next one is set. A plain timer callback rather than a task that sleeps:
it costs the loop one timer handle per tick, no future and no task step. Measured with
time.perf_counter, as uvloop's loop clock counts whole milliseconds.
"""

from __future__ import annotations

import asyncio
import time

from prometheus_client import Histogram

from hallway.metrics import EVENT_LOOP_LAG

# Often enough that a stall of a few milliseconds shows, seldom enough to cost nothing.
INTERVAL_SECONDS = 0.005


class LoopLagMonitor:
    def __init__(
        self, histogram: Histogram = EVENT_LOOP_LAG, interval: float = INTERVAL_SECONDS
    ) -> None:
        self._histogram = histogram
        self._interval = interval
        self._due = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Start measuring on the running loop."""
        self._schedule(asyncio.get_running_loop(), time.perf_counter())

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule(self, loop: asyncio.AbstractEventLoop, now: float) -> None:
        self._due = now + self._interval
        self._timer = loop.call_later(self._interval, self._tick, loop)

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        now = time.perf_counter()
        # A loop may run a timer a hair early (within its clock's resolution): that is on time.
        self._histogram.observe(max(now - self._due, 0.0))
        self._schedule(loop, now)
