"""The broker interface and its in-memory implementation (one process)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

FrameHandler = Callable[[str, str], None]
"""Called with (topic, frame) for every frame published on a subscribed topic."""


class Broker(Protocol):
    """Topic pub/sub between the processes of one deployment.

    A process subscribes to the topics its connections need; `handler` receives, in
    publication order per publisher, every frame published on them by any process.
    """

    handler: FrameHandler | None

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> None: ...

    async def publish(self, topic: str, frame: str) -> None: ...

    async def subscribe(self, topics: list[str]) -> None: ...

    async def unsubscribe(self, topics: list[str]) -> None: ...


class MemoryBroker:
    """Delivers in the same process: publish calls the handler for subscribed topics."""

    def __init__(self) -> None:
        self.handler: FrameHandler | None = None
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
