"""Slack import: a generated workspace export of `--slack-messages` messages (100,000 by
default) imported into a fresh database, as `hallway import slack` does it.

The export has 200 people, 40 public and 10 private channels and 50 DMs; a tenth of the
messages are thread replies, one in eight has reactions (one in five of those a custom
emoji), one in twenty was edited, one in ten mentions someone, a hundred carry a file. The
figures: messages/s of the import (the export is read and checked first, inside the time),
and the time of a second run, which finds everything imported and writes nothing.
"""

from __future__ import annotations

import argparse
import io
import random
import time
import zipfile
from pathlib import Path
from typing import Any

import orjson

from bench.server import SECRET, Stack, fresh_database
from bench.stats import Result
from bench.words import vocabulary
from hallway.config import Settings
from hallway.domain.context import DomainContext
from hallway.files.local import LocalStorage
from hallway.slack_import.run import import_slack

PEOPLE = 200
CHANNELS = 40
PRIVATE = 10
DMS = 50
FILES = 100
PER_DAY = 500
T0 = 1_600_000_000
WORDS = vocabulary(5_000)


def _people() -> list[dict[str, Any]]:
    return [
        {
            "id": f"U{n:06d}",
            "team_id": "TBENCH",
            "name": f"person{n}",
            "is_admin": n == 0,
            "profile": {"real_name": f"Person {n}", "email": f"person{n}@bench.test"},
        }
        for n in range(PEOPLE)
    ]


def _conversations(rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    def channel(prefix: str, n: int) -> dict[str, Any]:
        members = rng.sample([f"U{k:06d}" for k in range(PEOPLE)], 30)
        return {
            "id": f"{prefix}{n:06d}",
            "name": f"{prefix.lower()}-{n}",
            "created": T0,
            "creator": members[0],
            "members": members,
        }

    dms = [
        {"id": f"D{n:06d}", "created": T0, "members": [f"U{n:06d}", f"U{n + 1:06d}"]}
        for n in range(DMS)
    ]
    return {
        "channels.json": [channel("C", n) for n in range(CHANNELS)],
        "groups.json": [channel("G", n) for n in range(PRIVATE)],
        "dms.json": dms,
    }


def _message(rng: random.Random, n: int, members: list[str], roots: list[str]) -> dict[str, Any]:
    ts = f"{T0 + n}.{n % 1_000_000:06d}"
    text = " ".join(rng.choices(WORDS, k=rng.randint(4, 20)))
    if n % 10 == 3:
        text = f"<@{rng.choice(members)}> {text}"
    user = rng.choice(members)
    message: dict[str, Any] = {"type": "message", "ts": ts, "user": user, "text": text}
    if n % 10 == 7 and roots:
        message["thread_ts"] = rng.choice(roots[-20:])
    else:
        roots.append(ts)
    if n % 8 == 0:
        name = "party_parrot" if n % 40 == 0 else rng.choice(["+1", "tada", "eyes", "heart"])
        message["reactions"] = [{"name": name, "users": members[:3], "count": len(members[:3])}]
    if n % 20 == 5:
        message["edited"] = {"user": user, "ts": f"{T0 + n + 30}.000000"}
    if n < FILES:
        message["files"] = [{"id": f"F{n:06d}", "name": f"notes-{n}.txt", "mimetype": "text/plain"}]
    return message


def write_export(path: Path, count: int, seed: int = 7) -> None:
    """A zip of `count` messages spread over the conversations, PER_DAY to a day file."""
    rng = random.Random(seed)
    conversations = _conversations(rng)
    every = [c for listed in conversations.values() for c in listed]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("users.json", orjson.dumps(_people()))
        for name, listed in conversations.items():
            archive.writestr(name, orjson.dumps(listed))
        share, left = divmod(count, len(every))
        n = 0
        for k, conversation in enumerate(every):
            folder = conversation.get("name") or conversation["id"]
            roots: list[str] = []
            mine = [
                _message(rng, n + i, conversation["members"], roots)
                for i in range(share + (1 if k < left else 0))
            ]
            n += len(mine)
            for day, start in enumerate(range(0, len(mine), PER_DAY)):
                name = f"{folder}/2020-{1 + day // 28:02d}-{1 + day % 28:02d}.json"
                archive.writestr(name, orjson.dumps(mine[start : start + PER_DAY]))
        for f in range(FILES):
            archive.writestr(f"__uploads/F{f:06d}/notes-{f}.txt", f"file number {f}\n")


async def measure(stack: Stack, count: int) -> Result:
    export = stack.data_dir / "slack-export.zip"
    db = await fresh_database(stack)
    write_export(export, count)
    settings = Settings(secret_key=SECRET, data_dir=stack.data_dir, database_url=stack.database_url)
    storage = LocalStorage(stack.data_dir / "files")
    await storage.start()
    ctx = DomainContext(settings=settings, db=db)
    try:
        timings = []
        for _ in range(2):
            started = time.monotonic()
            done = await import_slack(ctx, storage, export, "Bench Slack", io.StringIO())
            timings.append(time.monotonic() - started)
    finally:
        await db.dispose()
    imported = done.summary
    first, second = timings
    rate = count / first
    figures = {
        "messages": count,
        "imported_messages": imported.imported["messages"] or count,
        "export_mb": round(export.stat().st_size / 1e6, 1),
        "import_seconds": round(first, 1),
        "messages_per_s": round(rate),
        "second_run_seconds": round(second, 1),
    }
    return Result(
        "slack_import",
        stack.label,
        f"{count:,} messages",
        figures,
        f"{count:,} messages in {first:.1f} s ({round(rate):,}/s); a second run "
        f"(nothing new) {second:.1f} s",
        "context",
        None,
    )


async def run(stacks: list[Stack], args: argparse.Namespace) -> list[Result]:
    return [await measure(stack, args.slack_messages) for stack in stacks]
