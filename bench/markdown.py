"""Markdown: what rendering a message's body costs the server (hallway/domain/message_format).

In process, no server or database: each body of a chat-like mix is rendered as a send
renders it, timed one by one. The mix, by share of messages: plain short text (a sentence,
no marks: the shortcut that skips the parser), a sentence with a URL, a sentence with bold
or inline code, a fenced code block, a quote or a list, and a long message (about 2,000
characters of formatted paragraphs). Figures: CPU µs per message, p50/p99, per kind and over
the mix; and the parser's cost for the plain kind, which is what the shortcut saves.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

from bench.server import Stack
from bench.stats import Result, percentile
from bench.words import body_maker, vocabulary
from hallway.domain.message_format import render_body, render_with_parser

TARGET_MEAN_US = 100
TARGET_P99_US = 1_000
"""Rendering should stay a small part of a send, which takes about 0.5 ms of the server's CPU
on a quiet machine (docs/benchmarks.md): a fifth of it on average, and a whole send's worth
for the slowest bodies of the mix."""

Make = Callable[[random.Random], str]


def kinds(words: list[str]) -> dict[str, tuple[float, Make]]:
    """Each kind of body: its share of the mix and how to make one."""
    sentence = body_maker(words, seed=3)

    def plain(rng: random.Random) -> str:
        return sentence(0).capitalize() + rng.choice(["", ".", "?", "!"])

    def with_url(rng: random.Random) -> str:
        path = "/".join(rng.sample(words[:500], 2))
        return f"{sentence(0)} https://example.com/{path}?id={rng.randint(1, 9999)}"

    def emphasis(rng: random.Random) -> str:
        a, b = rng.sample(words[:2000], 2)
        return f"{sentence(0)} **{a}** and `{b}()` {sentence(0)}"

    def code_block(rng: random.Random) -> str:
        lines = "\n".join(f"    {w} = {rng.randint(0, 99)}" for w in rng.sample(words, 6))
        return f"{sentence(0)}:\n```python\ndef f():\n{lines}\n```"

    def quote_or_list(rng: random.Random) -> str:
        if rng.random() < 0.5:
            return f"> {sentence(0)}\n\n{sentence(0)}"
        return "\n".join(f"- {sentence(0)}" for _ in range(rng.randint(2, 5)))

    def long(rng: random.Random) -> str:
        parts: list[str] = []
        while sum(len(p) for p in parts) < 2_000:
            parts.append(f"{sentence(0)} *{rng.choice(words)}* {sentence(0)}.")
        return "\n\n".join(parts)

    return {
        "plain": (0.70, plain),
        "url": (0.10, with_url),
        "bold_or_code": (0.08, emphasis),
        "code_block": (0.04, code_block),
        "quote_or_list": (0.05, quote_or_list),
        "long": (0.03, long),
    }


def _timed(render: Callable[[str], str], bodies: list[str]) -> list[float]:
    """CPU seconds each render took (this thread's: a shared machine's preemptions do not
    count, they are no cost of rendering)."""
    took = []
    for body in bodies:
        started = time.thread_time()
        render(body)
        took.append(time.thread_time() - started)
    return took


def _us(seconds: list[float]) -> dict[str, float]:
    return {
        "p50_us": round(percentile(seconds, 50) * 1e6, 1),
        "p99_us": round(percentile(seconds, 99) * 1e6, 1),
    }


def measure(count: int) -> Result:
    rng = random.Random(4)
    mix = kinds(vocabulary())
    names = list(mix)
    chosen = rng.choices(names, weights=[mix[n][0] for n in names], k=count)
    bodies = [(name, mix[name][1](rng)) for name in chosen]
    for _, body in bodies[:200]:  # warm up
        render_body(body)
    took = _timed(render_body, [body for _, body in bodies])
    by_kind: dict[str, list[float]] = {name: [] for name in names}
    for (name, _), seconds in zip(bodies, took, strict=True):
        by_kind[name].append(seconds)
    plain = [body for name, body in bodies if name == "plain"]
    figures: dict[str, object] = {
        "messages": count,
        "mix": {**_us(took), "mean_us": round(sum(took) / len(took) * 1e6, 1)},
        **{name: {"share": mix[name][0], **_us(by_kind[name])} for name in names},
        "plain_through_the_parser": _us(_timed(render_with_parser, plain)),
    }
    mixed = figures["mix"]
    assert isinstance(mixed, dict)
    return Result(
        scenario="markdown",
        backend="any",
        variant=f"render, {count} bodies of a chat mix",
        figures=figures,
        headline=(
            f"mix mean {mixed['mean_us']} µs, p50 {mixed['p50_us']} µs, p99 {mixed['p99_us']} µs; "
            + ", ".join(f"{n} p50 {figures[n]['p50_us']} µs" for n in names)  # type: ignore[index]
            + f"; plain through the parser p50 "
            f"{figures['plain_through_the_parser']['p50_us']} µs"  # type: ignore[index]
        ),
        target=f"mix mean <= {TARGET_MEAN_US} µs, p99 <= {TARGET_P99_US:,} µs",
        met=mixed["mean_us"] <= TARGET_MEAN_US and mixed["p99_us"] <= TARGET_P99_US,
    )


async def run(stacks: list[Stack], args: argparse.Namespace) -> list[Result]:
    """The database plays no part: one row whatever the backends."""
    return [measure(args.markdown_messages)]
