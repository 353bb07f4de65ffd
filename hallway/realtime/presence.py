"""Who is online: ephemeral, never in the database (docs/architecture.md, principle 4)."""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from typing import Protocol

from hallway.realtime.redis_outage import (
    REDIS_FAILURES,
    RedisOutageLog,
    describe,
    fail_fast_client,
)


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

    While Redis is away no method raises: presence is a nicety, and a socket's attach and
    detach must go on without it. The outage is logged once (RedisOutageLog), and the
    answers err towards saying nothing (see each method).
    """

    def __init__(self, url: str, ttl_seconds: float, outage: RedisOutageLog | None = None) -> None:
        self._client = fail_fast_client(url, decode_responses=True)
        self._ttl = ttl_seconds
        self._process = uuid.uuid4().hex[:12]
        self._outage = outage or RedisOutageLog()

    @staticmethod
    def _key(company_id: str) -> str:
        return f"hallway:presence:{company_id}"

    async def mark_online(self, company_id: str, user_ids: list[str]) -> None:
        """Not recorded while Redis is away; the next refresh records it."""
        if not user_ids:
            return
        expires = time.time() + self._ttl
        key = self._key(company_id)
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.hset(key, mapping={f"{u}|{self._process}": expires for u in user_ids})
                pipe.expire(key, int(self._ttl * 2) + 1)
                await pipe.execute()
        except REDIS_FAILURES as error:
            self._outage.failed(describe(error))
            return
        self._outage.succeeded()

    async def mark_offline(self, company_id: str, user_id: str) -> bool:
        """False while Redis is away: whether the person is still connected to another
        process is unknown, and announcing them offline on a guess would be wrong for
        everyone watching; this process's entry expires within the TTL anyway."""
        key = self._key(company_id)
        try:
            await self._client.hdel(key, f"{user_id}|{self._process}")
            online = await self._online(company_id, [user_id])
        except REDIS_FAILURES as error:
            self._outage.failed(describe(error))
            return False
        self._outage.succeeded()
        return user_id not in online

    async def online(self, company_id: str, user_ids: list[str]) -> set[str]:
        """Empty while Redis is away: nobody is claimed online who may have left, and the
        people list still loads."""
        try:
            online = await self._online(company_id, user_ids)
        except REDIS_FAILURES as error:
            self._outage.failed(describe(error))
            return set()
        self._outage.succeeded()
        return online

    async def _online(self, company_id: str, user_ids: list[str]) -> set[str]:
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
