"""Where a server process builds the exports asked of it (hallway/domain/export_jobs.py)."""

from __future__ import annotations

import asyncio

from hallway.domain.context import DomainContext
from hallway.domain.export_jobs import run_export, waiting_exports
from hallway.realtime.background import BackgroundTasks


class ExportRunner:
    """This process's export jobs: one builds at a time (the others wait their turn, queued),
    and all are cancelled, and so marked failed, when the server stops."""

    def __init__(self, ctx: DomainContext) -> None:
        self._ctx = ctx
        self._tasks = BackgroundTasks()
        self._turn = asyncio.Semaphore(1)

    def start(self, export_id: str) -> None:
        self._tasks.spawn(self._run(export_id))

    async def resume(self) -> None:
        """Take up the jobs queued before this start."""
        for export_id in await waiting_exports(self._ctx):
            self.start(export_id)

    async def _run(self, export_id: str) -> None:
        async with self._turn:
            await run_export(self._ctx, export_id)

    async def stop(self) -> None:
        await self._tasks.stop()
