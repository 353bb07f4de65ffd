"""Natural batching: writes that queue behind each other are done together.

Every send to a conversation takes the conversation's next seq, and on PostgreSQL holds
the conversation's row lock from then until its commit has reached the disk, so sends to
one conversation commit one after another, each waiting for a flush of its own. Here a
write whose key (its conversation) is idle runs at once, by itself: a lone send waits for
nothing. Writes arriving while one runs wait, and when it ends they run as one batch, in
the order they came: one statement and one flush for them all, however many there are
(up to `max_batch`). Nothing waits for a batch to fill.

A run ends at its commit, and the key's next batch starts then, before the callers of the
run that ended go on to publish what they wrote: its statement is on its way meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")

RunOne = Callable[[_Item], Awaitable[_Result]]
RunBatch = Callable[[Sequence[_Item]], Awaitable[Sequence[_Result | Exception]]]
"""Runs a batch; one outcome per item, in order: its result or the error it answers."""


@dataclass
class _Lane(Generic[_Item, _Result]):
    run_batch: RunBatch[_Item, _Result]
    waiting: list[tuple[_Item, asyncio.Future[_Result]]] = field(default_factory=list)


class NaturalBatcher(Generic[_Item, _Result]):
    """One lane per key; the lane exists while a write of that key runs."""

    def __init__(self, max_batch: int = 100) -> None:
        self.max_batch = max_batch
        self._lanes: dict[Hashable, _Lane[_Item, _Result]] = {}
        self._running: set[asyncio.Task[None]] = set()  # batches, kept from the collector

    async def submit(
        self,
        key: Hashable,
        item: _Item,
        run_one: RunOne[_Item, _Result],
        run_batch: RunBatch[_Item, _Result],
    ) -> _Result:
        """`item`'s result: from `run_one(item)` at once if nothing of `key` runs, else
        from the `run_batch` it joins. Every submit of one key passes the same functions.

        A caller cancelled while it waits is left out of its batch, so nothing of it is
        written; one cancelled while its batch runs leaves the batch to finish."""
        lane = self._lanes.get(key)
        if lane is not None:
            future: asyncio.Future[_Result] = asyncio.get_running_loop().create_future()
            lane.waiting.append((item, future))
            return await future
        lane = self._lanes[key] = _Lane(run_batch)
        try:
            return await run_one(item)
        finally:
            self._start_next(key, lane)

    def _start_next(self, key: Hashable, lane: _Lane[_Item, _Result]) -> None:
        """Starts what waits for `key`, or frees the key."""
        waiting = [(item, future) for item, future in lane.waiting if not future.done()]
        if not waiting:
            del self._lanes[key]
            return
        batch, lane.waiting = waiting[: self.max_batch], waiting[self.max_batch :]
        task = asyncio.create_task(self._run(key, lane, batch))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(
        self,
        key: Hashable,
        lane: _Lane[_Item, _Result],
        batch: list[tuple[_Item, asyncio.Future[_Result]]],
    ) -> None:
        try:
            outcomes: Sequence[_Result | Exception] = await lane.run_batch(
                [item for item, _ in batch]
            )
        except Exception as error:
            outcomes = [error] * len(batch)
        except BaseException:
            for _, future in batch:
                future.cancel()
            raise
        finally:
            self._start_next(key, lane)
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
