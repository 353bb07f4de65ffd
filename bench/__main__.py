"""`python -m bench [SCENARIO ...] [--backend sqlite|postgresql]`: run, print, save JSON.

Every scenario starts its own servers (`hallway serve` on free ports of 127.0.0.1) on a
fresh database. PostgreSQL is the `hallway_bench` database (HALLWAY_BENCH_DATABASE_URL);
its schema is dropped and re-created by each scenario. Redis database 5 carries the
two-process runs (HALLWAY_BENCH_REDIS_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench import (
    connections,
    disk,
    e2e,
    exports,
    fanout,
    history,
    lag,
    markdown,
    retention,
    search,
    send,
    slack_import,
)
from bench.server import BACKENDS, Stack
from bench.stats import Result

Scenario = Callable[[list[Stack], argparse.Namespace], Awaitable[list[Result]]]
SCENARIOS: dict[str, Scenario] = {
    "disk": disk.run,
    "send": send.run,
    "e2e": e2e.run,
    "fanout": fanout.run,
    "connections": connections.run,
    "history": history.run,
    "search": search.run,
    "retention": retention.run,
    "lag": lag.run,
    "exports": exports.run,
    "slack_import": slack_import.run,
    "markdown": markdown.run,
}
RESULTS_DIR = Path(__file__).parent / "results"


def _sizes(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",")]


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "scenarios", nargs="*", metavar="SCENARIO", help=f"{', '.join(SCENARIOS)} (default: all)"
    )
    parser.add_argument("--backend", choices=BACKENDS, action="append", help="default: both")
    parser.add_argument(
        "--rls",
        action="store_true",
        help="PostgreSQL: also run each scenario as an app role held by row-level security",
    )
    parser.add_argument("--send-messages", type=int, default=2000)
    parser.add_argument(
        "--send-processes",
        type=int,
        default=1,
        help="send: also measure this many server processes on one database (with Redis)",
    )
    parser.add_argument("--fanout-n", type=_sizes, default=[100, 1000, 5000])
    parser.add_argument(
        "--fanout-deliveries",
        type=int,
        default=200_000,
        help="fan-out: per batch (a round has one for each setup); sets the messages",
    )
    parser.add_argument(
        "--window", type=int, default=2, help="fan-out: messages in flight beyond delivery"
    )
    parser.add_argument(
        "--fanout-rounds",
        type=_at_least_one,
        default=3,
        help="fan-out: batches each setup sends in turn; the row is the median pair",
    )
    parser.add_argument(
        "--fanout-sender",
        choices=("socket", "http"),
        default="socket",
        help="fan-out: Hallway's sender sends over its realtime socket, or POSTs one at a time",
    )
    parser.add_argument("--connections", type=int, default=15_000)
    parser.add_argument("--history-messages", type=int, default=1_000_000)
    parser.add_argument("--history-pages", type=int, default=2000)
    parser.add_argument(
        "--history-processes",
        type=int,
        default=2,
        help="history: the 10 readers also spread over this many server processes (1: not)",
    )
    parser.add_argument("--search-messages", type=int, default=1_000_000)
    parser.add_argument("--search-rounds", type=int, default=100, help="queries per kind")
    parser.add_argument("--retention-messages", type=int, default=1_000_000)
    parser.add_argument("--lag-messages", type=int, default=200_000)
    parser.add_argument(
        "--lag-seconds", type=float, default=20.0, help="lag: how long the live load runs"
    )
    parser.add_argument(
        "--export-messages", type=int, default=100_000, help="exports: messages exported"
    )
    parser.add_argument("--slack-messages", type=int, default=100_000)
    parser.add_argument(
        "--markdown-messages", type=int, default=20_000, help="markdown: bodies rendered"
    )
    return parser


def machine() -> dict[str, object]:
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def print_table(results: list[Result]) -> None:
    rows = [("scenario", "backend", "variant", "figures", "target", "met", "load")]
    for r in results:
        met = "-" if r.met is None else ("yes" if r.met else "NO")
        load = "" if r.load_average is None else str(r.load_average)
        rows.append((r.scenario, r.backend, r.variant, r.headline, r.target, met, load))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def markdown_rows(results: list[Result]) -> str:
    """The rows of docs/benchmarks.md's table, as this run measured them."""
    lines = []
    for r in results:
        met = "—" if r.met is None else ("yes" if r.met else "no")
        load = "" if r.load_average is None else str(r.load_average)
        cells = (
            f"{r.scenario}, {r.variant}",
            r.backend,
            r.headline,
            r.target,
            met,
            load,
            f"`{r.command}`",
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


async def run(args: argparse.Namespace, data_dir: Path) -> list[Result]:
    backends = args.backend or list(BACKENDS)
    results: list[Result] = []
    for name in args.scenarios or list(SCENARIOS):
        stacks = [Stack(b, data_dir / b) for b in backends]
        if args.rls:
            # Each PostgreSQL scenario again as an app role held by row-level security.
            stacks += [
                Stack(b, data_dir / f"{b}-rls", row_security=True)
                for b in backends
                if b == "postgresql"
            ]
        print(f"--- {name} on {', '.join(backends)}", file=sys.stderr, flush=True)
        found = await SCENARIOS[name](stacks, args)
        for result in found:
            result.load_average = round(os.getloadavg()[0], 2)
            result.command = f"python -m bench {name}"
        print_table(found)
        results.extend(found)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario {', '.join(sorted(unknown))}")
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    about = machine()
    with tempfile.TemporaryDirectory(prefix="hallway-bench-") as tmp:
        results = asyncio.run(run(args, Path(tmp)))
    print()
    print_table(results)
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{started.replace(':', '')}.json"
    document = {
        "started": started,
        "machine": about,
        "command": " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])]),
        "results": [r.as_json() for r in results],
    }
    path.write_text(json.dumps(document, indent=2))
    path.with_suffix(".md").write_text(markdown_rows(results))
    print(f"\nwritten to {path} (and the table's rows to {path.with_suffix('.md').name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
