"""Who is online: ephemeral, never in the database (DESIGN.md principle 4)."""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from typing import Protocol

import redis.asyncio as redis


class Presence(Protocol):
    """Where the processes of a deployment record which of their people are connected."""

    async def mark_online(self, company_id: str, user_ids: list[str]) -> None: ...

    async def mark_offline(self, company_id: str, user_id: str) -> bool:
        """Forget this process's connection; True if the person is now offline everywhere."""
        ...

    async def online(self, company_id: str, user_ids: list[str]) -> set[str]: ...

    async def close(self) -> None: ...


class MemoryPresence:
    def __init__(self) -> None:
        self._online: dict[str, set[str]] = defaultdict(set)

    async def mark_online(self, company_id: str, user_ids: list[str]) -> None:
        self._online[company_id].update(user_ids)

    async def mark_offline(self, company_id: str, user_id: str) -> bool:
        self._online[company_id].discard(user_id)
        return True

    async def online(self, company_id: str, user_ids: list[str]) -> set[str]:
        return self._online[company_id].intersection(user_ids)

    async def close(self) -> None:
        self._online.clear()


class RedisPresence:
    """A hash per company: field "<user>|<process>" holds the time that entry expires.

    Each process refreshes its entries (mark_online) well inside the TTL, so a process that
    dies takes its people offline within one TTL without anyone cleaning up after it.
    """

    def __init__(self, url: str, ttl_seconds: float) -> None:
        self._client = redis.Redis.from_url(url, decode_responses=True)
        self._ttl = ttl_seconds
        self._process = uuid.uuid4().hex[:12]

    @staticmethod
    def _key(company_id: str) -> str:
        return f"hallway:presence:{company_id}"

    async def mark_online(self, company_id: str, user_ids: list[str]) -> None:
        if not user_ids:
            return
        expires = time.time() + self._ttl
        key = self._key(company_id)
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.hset(key, mapping={f"{u}|{self._process}": expires for u in user_ids})
            pipe.expire(key, int(self._ttl * 2) + 1)
            await pipe.execute()

    async def mark_offline(self, company_id: str, user_id: str) -> bool:
        key = self._key(company_id)
        await self._client.hdel(key, f"{user_id}|{self._process}")
        return user_id not in await self.online(company_id, [user_id])

    async def online(self, company_id: str, user_ids: list[str]) -> set[str]:
        wanted = set(user_ids)
        now = time.time()
        entries = await self._client.hgetall(self._key(company_id))
        online = {
            str(field).split("|", 1)[0]
            for field, expires in entries.items()
            if float(expires) > now
        }
        return online & wanted

    async def close(self) -> None:
        await self._client.aclose()
