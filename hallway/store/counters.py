"""Where rate-limit counters are kept: Redis (shared by every node) or this process's
memory, as storages of the `limits` library."""

from __future__ import annotations

from typing import Any

import redis.asyncio as redis
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.errors import StorageError
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

# How long a counter's command may take, connecting included, before Redis counts as
# unreachable: a request waits at most this long before it is let through unlimited.
COMMAND_SECONDS = 2.0

# What a storage raises when its Redis is away or answers with errors.
STORAGE_FAILURES = (StorageError, OSError)


class RedisCounters:
    """A Redis storage for every node's counters, on a connection pool of its own that
    gives up within COMMAND_SECONDS and does not retry (redis-py would otherwise retry with
    growing pauses while every limited request waited)."""

    def __init__(self, url: str, key_prefix: str) -> None:
        self.pool = redis.ConnectionPool.from_url(
            url,
            socket_connect_timeout=COMMAND_SECONDS,
            socket_timeout=COMMAND_SECONDS,
            retry=Retry(NoBackoff(), 0),
        )
        # limits hands this pool to redis-py's client; its options are typed for scalars.
        options: dict[str, Any] = {"connection_pool": self.pool}
        self.storage: Storage = RedisStorage(
            _storage_uri(url),
            wrap_exceptions=True,
            implementation="redispy",
            key_prefix=key_prefix,
            **options,
        )

    async def close(self) -> None:
        await self.pool.aclose()


def memory_counters() -> Storage:
    return MemoryStorage()


def _storage_uri(url: str) -> str:
    """The `limits` URI of a redis-py URL (redis://, rediss:// or unix://)."""
    if url.startswith("unix://"):
        return "async+redis+" + url
    return "async+" + url
