"""A progress bar on stderr: redrawn in place on a terminal, a line per tenth elsewhere
(a log file should not fill with redraws)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 30
REDRAW_SECONDS = 0.1


class ProgressBar:
    def __init__(self, total: int, unit: str, out: TextIO | None = None) -> None:
        self.total = max(total, 1)
        self.unit = unit
        self.out = out or sys.stderr
        self.done = 0
        self._live = self.out.isatty()
        self._drawn_at = 0.0
        self._tenths = -1

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self._live:
            now = time.monotonic()
            if now - self._drawn_at >= REDRAW_SECONDS:
                self._drawn_at = now
                self.out.write(f"\r{self._bar()}")
                self.out.flush()
        elif (tenths := self.done * 10 // self.total) > self._tenths:
            self._tenths = tenths
            self.out.write(f"{self._bar()}\n")

    def _bar(self) -> str:
        share = min(self.done / self.total, 1.0)
        filled = int(share * WIDTH)
        return (
            f"[{'#' * filled}{'.' * (WIDTH - filled)}] {share:4.0%} "
            f"{self.done}/{self.total} {self.unit}"
        )

    def finish(self) -> None:
        self.done = max(self.done, self.total)
        if self._live:
            self.out.write(f"\r{self._bar()}\n")
        elif self._tenths < 10:
            self.out.write(f"{self._bar()}\n")
        self.out.flush()
