"""The database pool's use as gauges (hallway_db_pool_*), read every few seconds: reading
the pool costs nothing, and counting at each checkout would put pool events on every
statement's path."""

from __future__ import annotations

import asyncio

from hallway.metrics import DB_POOL_CAPACITY, DB_POOL_CHECKED_OUT, DB_POOL_IDLE
from hallway.store.database import Database

SAMPLE_SECONDS = 2.0


async def record_pool_use_forever(db: Database) -> None:
    while True:
        use = db.pool_use()
        if use is None:
            return  # SQLite: no pool to watch
        DB_POOL_CHECKED_OUT.set(use.checked_out)
        DB_POOL_IDLE.set(use.idle)
        DB_POOL_CAPACITY.set(use.capacity)
        await asyncio.sleep(SAMPLE_SECONDS)
