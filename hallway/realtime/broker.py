"""The broker interface and its in-memory implementation (one process)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

FrameHandler = Callable[[str, str], None]
"""Called with (topic, frame) for every frame published on a subscribed topic."""


class BrokerUnavailable(Exception):
    """Raised by `Broker.ping` when the broker can't reach the other processes now. The
    broker has logged why, once for the whole outage."""


class Broker(Protocol):
    """Topic pub/sub between the processes of one deployment.

    A process subscribes to the topics its connections need; `handler` receives, in
    publication order per publisher, every frame published on them by any process.

    `reconnected`, when set, is called once the broker receives from the other processes
    again after it could not (its connection was lost, or could not be made at start), and
    every topic is subscribed again. Frames published meanwhile did not arrive here: the
    owner reads them from the log.
    """

    handler: FrameHandler | None
    reconnected: Callable[[], None] | None

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raises BrokerUnavailable while frames can't reach the other processes."""
        ...

    async def publish(self, topic: str, frame: str) -> None: ...

    async def subscribe(self, topics: list[str]) -> None: ...

    async def unsubscribe(self, topics: list[str]) -> None: ...


class MemoryBroker:
    """Delivers in the same process: publish calls the handler for subscribed topics."""

    def __init__(self) -> None:
        self.handler: FrameHandler | None = None
        self.reconnected: Callable[[], None] | None = None  # never called: nothing to lose
        self._topics: set[str] = set()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._topics.clear()

    async def ping(self) -> None:
        return None

    async def publish(self, topic: str, frame: str) -> None:
        if topic in self._topics and self.handler is not None:
            self.handler(topic, frame)

    async def subscribe(self, topics: list[str]) -> None:
        self._topics.update(topics)

    async def unsubscribe(self, topics: list[str]) -> None:
        self._topics.difference_update(topics)
