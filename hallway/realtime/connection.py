"""One client's WebSocket: identity, subscriptions and a bounded send queue."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field

from starlette.websockets import WebSocket, WebSocketState

from hallway.domain.actor import Actor
from hallway.realtime.frames import CLOSE_SLOW_CONSUMER

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Subscription:
    """A connection's view of one conversation: the highest seq it was sent, and while the
    replay from the log runs, the live frames that arrive meanwhile."""

    delivered: int = 0
    buffer: list[tuple[int, str]] | None = field(default_factory=list)


class Connection:
    """Frames are queued without awaiting (fan-out never waits on one client) and written by
    this connection's own sender task. A client too slow to keep its queue under the limit
    is closed with CLOSE_SLOW_CONSUMER and resumes later with after_seq."""

    __slots__ = (
        "_queue",
        "_room",
        "_sender",
        "_typed",
        "actor",
        "closed",
        "conversations",
        "last_seen",
        "queue_limit",
        "subscriptions",
        "websocket",
    )

    def __init__(self, websocket: WebSocket, actor: Actor, queue_limit: int) -> None:
        self.websocket = websocket
        self.actor = actor
        self.queue_limit = queue_limit
        self.subscriptions: dict[str, Subscription] = {}
        self.conversations: set[str] = set()  # the conversations its person belongs to
        self.closed = False
        self.last_seen = time.monotonic()  # when the client last sent a frame
        self._queue: deque[str] = deque()
        self._typed: dict[str, float] | None = None
        self._room: asyncio.Event | None = None  # made when someone waits for queue space
        # Runs only while frames wait to be written: an idle connection holds no task.
        self._sender: asyncio.Task[None] | None = None

    def send(self, frame: str) -> None:
        if self.closed:
            return
        if len(self._queue) >= self.queue_limit:
            self.close(CLOSE_SLOW_CONSUMER, "slow consumer: resume with after_seq")
            return
        self._queue.append(frame)
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._drain())

    def typing_allowed(self, conversation_id: str, min_interval: float) -> bool:
        """Whether a typing notice for this conversation may go out now (throttled)."""
        now = time.monotonic()
        if self._typed is None:
            self._typed = {}
        if now - self._typed.get(conversation_id, 0.0) < min_interval:
            return False
        self._typed[conversation_id] = now
        return True

    async def send_when_room(self, frame: str) -> None:
        """Queue a frame, first waiting for space: for bulk sends (a replay) that must not
        count as the client being slow."""
        while len(self._queue) >= self.queue_limit and not self.closed:
            if self._room is None:
                self._room = asyncio.Event()
            self._room.clear()
            await self._room.wait()
        self.send(frame)

    def overflowing(self, extra: int) -> bool:
        return len(self._queue) + extra >= self.queue_limit

    def close(self, code: int, reason: str = "") -> None:
        """Close from any context without awaiting; the receive loop then ends."""
        if self.closed:
            return
        self.closed = True
        self._queue.clear()
        if self._sender is not None:
            self._sender.cancel()
        if self._room is not None:
            self._room.set()
        asyncio.get_running_loop().create_task(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            if self.websocket.application_state == WebSocketState.CONNECTED:
                await self.websocket.close(code=code, reason=reason)

    async def stop(self) -> None:
        self.closed = True
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender

    async def _drain(self) -> None:
        queue, send = self._queue, self.websocket.send_text
        try:
            while queue:
                await send(queue.popleft())
                if self._room is not None:
                    self._room.set()
        except asyncio.CancelledError:
            raise
        except Exception:
            # The peer went away mid-write; the receive loop notices and cleans up.
            self.closed = True
        finally:
            self._sender = None
