"""Exports: a company with one channel of N messages is exported (`hallway export`'s
writer, in this process) and the export imported into a fresh company (`hallway import
hallway`'s importer). Figures: messages per second each way, and the archive's size. No
server runs: both are work of one process on the database."""

from __future__ import annotations

import argparse
import time

from bench import seed
from bench.server import Stack, fresh_database
from bench.stats import Result
from hallway.config import Settings
from hallway.domain.context import DomainContext
from hallway.domain.export_import import import_hallway_export
from hallway.domain.export_jobs import find_scope
from hallway.exports.writer import write_export
from hallway.files.local import LocalStorage


async def measure(stack: Stack, count: int) -> Result:
    db = await fresh_database(stack)
    storage = LocalStorage(stack.data_dir / "files")
    await storage.start()
    try:
        room = await seed.room(db, 10)
        await seed.history(db, room, count)
        scope = await find_scope(
            db, company_id=None, conversation_id=room.conversation_id, since=None
        )
        target = stack.data_dir / "export.zip"
        target.unlink(missing_ok=True)
        started = time.perf_counter()
        manifest = await write_export(db, storage, scope, target)
        export_seconds = time.perf_counter() - started
        settings = Settings(data_dir=stack.data_dir, database_url=stack.database_url)
        ctx = DomainContext(settings=settings, db=db, storage=storage)
        started = time.perf_counter()
        summary = await import_hallway_export(ctx, target, company_name="Imported")
        import_seconds = time.perf_counter() - started
    finally:
        await storage.close()
        await db.dispose()
    assert manifest.counts["messages"] == summary.added["messages"] == count
    export_rate, import_rate = count / export_seconds, count / import_seconds
    return Result(
        "exports",
        stack.label,
        f"{count:,} messages in one channel, export then import",
        {
            "messages": count,
            "export_seconds": round(export_seconds, 2),
            "import_seconds": round(import_seconds, 2),
            "export_messages_per_second": round(export_rate),
            "import_messages_per_second": round(import_rate),
            "archive_bytes": target.stat().st_size,
        },
        f"export {export_rate:,.0f} messages/s, import {import_rate:,.0f} messages/s",
        "",
        None,
    )


async def run(stacks: list[Stack], args: argparse.Namespace) -> list[Result]:
    return [await measure(stack, args.export_messages) for stack in stacks]
