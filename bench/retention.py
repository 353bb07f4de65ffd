"""Retention: the job erases a conversation of `--retention-messages` messages, all of them
older than its company keeps (40 days old, kept 30).

The job runs as `hallway retention run` runs it, in this process on the scenario's
database. Figures: messages erased a second over the whole run (events dropped included),
and the longest any one batch held its transaction, which is how long a send to that
conversation could wait for it.
"""

from __future__ import annotations

import argparse
from datetime import timedelta

from sqlalchemy import select, update

from bench import seed
from bench.server import Stack, fresh_database
from bench.stats import Result, latency_ms
from hallway.config import Settings
from hallway.domain.context import DomainContext
from hallway.domain.retention import run_retention
from hallway.files.storage import open_storage
from hallway.store.tables import companies, conversations

KEPT_DAYS = 30
AGE = timedelta(days=40)
TARGET_LONGEST_MS = 100.0


async def measure(stack: Stack, count: int) -> Result:
    db = await fresh_database(stack)
    settings = Settings(data_dir=stack.data_dir, database_url=stack.database_url)
    storage = open_storage(settings)
    await storage.start()
    try:
        room = await seed.room(db, 1)
        await seed.history(db, room, count, age=AGE)
        async with db.write() as conn:
            company_id = (
                await conn.execute(
                    select(conversations.c.company_id).where(
                        conversations.c.id == room.conversation_id
                    )
                )
            ).scalar_one()
            await conn.execute(
                update(companies)
                .where(companies.c.id == company_id)
                .values(retention_days=KEPT_DAYS)
            )
        ctx = DomainContext(settings=settings, db=db, storage=storage)
        dry = await run_retention(ctx, dry_run=True)
        report = await run_retention(ctx)
    finally:
        await storage.close()
        await db.dispose()
    if (report.messages, report.events) != (dry.messages, dry.events):
        raise RuntimeError(
            f"the run erased {report.messages} messages and dropped {report.events} events; "
            f"the dry run counted {dry.messages} and {dry.events}"
        )
    rate = report.messages / report.seconds
    erase, drop = report.erase_transactions, report.drop_transactions
    longest_ms = max(erase + drop) * 1000
    figures: dict[str, object] = {
        "messages": count,
        "erased": report.messages,
        "events_dropped": report.events,
        "seconds": round(report.seconds, 1),
        "messages_per_s": round(rate),
        "longest_transaction_ms": round(longest_ms, 1),
        **{f"erase_batch_{k}": v for k, v in latency_ms(erase).items()},
        **{f"drop_batch_{k}": v for k, v in latency_ms(drop).items()},
    }
    return Result(
        "retention",
        stack.label,
        f"{count:,} messages, all expired",
        figures,
        f"{round(rate):,} messages/s erased ({report.messages:,} in {report.seconds:.0f} s, "
        f"{report.events:,} events dropped); a batch's transaction: erasing 100 p50 "
        f"{figures['erase_batch_p50_ms']} ms, p99 {figures['erase_batch_p99_ms']} ms; dropping "
        f"1,000 events p50 {figures['drop_batch_p50_ms']} ms, p99 "
        f"{figures['drop_batch_p99_ms']} ms; longest {longest_ms:.0f} ms",
        f"longest transaction <= {TARGET_LONGEST_MS:g} ms",
        longest_ms <= TARGET_LONGEST_MS,
    )


async def run(stacks: list[Stack], args: argparse.Namespace) -> list[Result]:
    return [await measure(stack, args.retention_messages) for stack in stacks]
