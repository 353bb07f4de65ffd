"""Figures: percentiles of latencies, and one result row per scenario run."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (nearest rank) of values; NaN for none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds."""
    ordered = sorted(seconds)
    return {
        f"{name}_ms": round(percentile(ordered, q) * 1000, 2)
        for name, q in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100))
    }


@dataclass
class Result:
    """One row of the table: what ran, on what, the figures, and the target they meet."""

    scenario: str
    backend: str
    variant: str
    figures: dict[str, Any]
    headline: str  # the figures that the target is about, in words
    target: str
    met: bool | None  # None where there is no target
    # The machine's 1-minute load average when the scenario ended: other work on this
    # 2-core machine shows here, and in the figures.
    load_average: float | None = None
    # The `python -m bench` scenario that measured it (the row's names are for reading).
    command: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "backend": self.backend,
            "variant": self.variant,
            "figures": self.figures,
            "headline": self.headline,
            "target": self.target,
            "met": self.met,
            "load_average": self.load_average,
            "command": self.command,
        }
