"""One client's WebSocket as the hub sees it: identity, subscriptions, and a bounded write
path to the socket."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

from hallway.domain.actor import Actor
from hallway.metrics import SLOW_CONSUMER_CLOSES
from hallway.realtime.frames import CLOSE_SLOW_CONSUMER


class FrameSink(Protocol):
    """Where a connection's frames go: the socket (hallway.api.realtime_protocol or
    hallway.api.realtime_route), or a recorder in tests."""

    def write_text(self, frame: str) -> None:
        """Frame and write at once, without awaiting (the transport buffers what the kernel
        won't take yet)."""

    def buffered_bytes(self) -> int:
        """Bytes written but not yet taken by the kernel."""

    async def drained(self) -> None:
        """Return once the transport accepts writes again (at once if it never paused)."""

    def send_close(self, code: int, reason: str) -> None:
        """Start the closing handshake; later writes are dropped."""


@dataclass(slots=True)
class Subscription:
    """A connection's view of one conversation: the highest seq it was sent, and while the
    replay from the log runs, the live frames that arrive meanwhile (and their size).
    `removed`: ended by its person's removal from the conversation."""

    delivered: int = 0
    buffer: list[tuple[int, str]] | None = field(default_factory=list)
    buffered_bytes: int = 0
    removed: bool = False


class Connection:
    """Frames are written straight to the transport, without a queue or task of its own:
    fan-out never waits on one client. A client that lets more than `buffer_limit` bytes
    pile up unread is closed with CLOSE_SLOW_CONSUMER and resumes later with after_seq.
    `frames_out` counts the frames written, for the socket's log line.

    While the hub attaches a connection, its frames are held (`hold`) and written after the
    greeting (`release`): `ready` stays the first frame yet goes out only once the
    connection hears everything it will be sent."""

    __slots__ = (
        "_held",
        "_typed",
        "actor",
        "away",
        "buffer_limit",
        "closed",
        "conversations",
        "frames_out",
        "last_seen",
        "sink",
        "subscriptions",
    )

    def __init__(self, sink: FrameSink, actor: Actor, buffer_limit: int) -> None:
        self.sink = sink
        self.actor = actor
        self.buffer_limit = buffer_limit
        self.subscriptions: dict[str, Subscription] = {}
        self.conversations: set[str] = set()  # the conversations its person belongs to
        self.closed = False
        self.frames_out = 0
        self.last_seen = time.monotonic()  # when the client last sent a frame
        self.away = False  # its client said its user is idle (`presence.set`)
        self._typed: dict[str, float] | None = None
        self._held: list[str] | None = None  # frames waiting for the greeting

    def hold(self) -> None:
        """Keep frames back until `release`."""
        self._held = []

    def release(self, greeting: str) -> None:
        """Write `greeting`, then the frames held since `hold`, and write at once from now."""
        held = self._held or []
        self._held = None
        self.send(greeting)
        for frame in held:
            self.send(frame)

    def send(self, frame: str) -> None:
        if self.closed:
            return
        if self._held is not None:
            self._held.append(frame)
            return
        if self.sink.buffered_bytes() > self.buffer_limit:
            self.close(CLOSE_SLOW_CONSUMER, "slow consumer: resume with after_seq")
            return
        self.sink.write_text(frame)
        self.frames_out += 1

    async def send_when_room(self, frame: str) -> None:
        """Write a frame once the transport takes writes again: for bulk sends (a replay)
        that must not count as the client being slow."""
        await self.sink.drained()
        self.send(frame)

    def overflowing(self, extra_bytes: int) -> bool:
        """Whether `extra_bytes` more, held for this connection, would pass its limit."""
        return self.sink.buffered_bytes() + extra_bytes > self.buffer_limit

    def typing_allowed(self, conversation_id: str, min_interval: float) -> bool:
        """Whether a typing notice for this conversation may go out now (throttled)."""
        now = time.monotonic()
        if self._typed is None:
            self._typed = {}
        if now - self._typed.get(conversation_id, 0.0) < min_interval:
            return False
        self._typed[conversation_id] = now
        return True

    def close(self, code: int, reason: str = "") -> None:
        """Close from any context without awaiting; the session detaches when the socket is
        gone."""
        if self.closed:
            return
        self.closed = True
        if code == CLOSE_SLOW_CONSUMER:
            SLOW_CONSUMER_CLOSES.inc()
        self.sink.send_close(code, reason)
