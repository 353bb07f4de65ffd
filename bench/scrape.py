"""Reading a server's /metrics (Prometheus text) in the scenarios that show what the server
counted itself."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from bench.http import Http

METRICS_TOKEN = "bench-metrics-token"
"""HALLWAY_METRICS_TOKEN of the scenarios' servers that are scraped."""

Samples = dict[str, list[tuple[dict[str, str], float]]]
"""Each metric family's samples: (labels, value), by sample name (`…_total`, `…_bucket`)."""


async def scrape(metrics: Http) -> Samples:
    status, body = await metrics.request("GET", "/metrics")
    if status != 200:
        raise RuntimeError(f"/metrics answered {status}: {body[:200]!r}")
    found: Samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return found


def total(samples: Samples, name: str) -> float:
    """A sample's value summed over its labels (0 when absent)."""
    return sum(value for _labels, value in samples.get(name, []))
