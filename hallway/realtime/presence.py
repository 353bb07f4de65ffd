"""Who is online: ephemeral, never in the database (docs/architecture.md, principle 4)."""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from typing import Literal, Protocol

from hallway.realtime.redis_outage import (
    REDIS_FAILURES,
    RedisOutageLog,
    describe,
    fail_fast_client,
)

Status = Literal["online", "away"]
"""A connected person's status: `away` when every socket of theirs, on every process, says
its user is idle (the client's `presence.set`); offline people have none."""


class Presence(Protocol):
    """Where the processes of a deployment record which of their people are connected, and
    whether they are away."""

    async def mark_online(self, company_id: str, user_ids: list[str]) -> None: ...

    async def set_away(self, company_id: str, user_id: str, away: bool) -> Status | None:
        """Record whether the person is away on this process; their status across every
        process now (None when it cannot be known: Redis is away)."""
        ...

    async def statuses(self, company_id: str, user_ids: list[str]) -> dict[str, Status]:
        """The status of each of these people who is connected."""
        ...

    async def mark_offline(self, company_id: str, user_id: str) -> bool:
        """Forget this process's connection; True if the person is now offline everywhere."""
        ...

    async def online(self, company_id: str, user_ids: list[str]) -> set[str]: ...

    async def close(self) -> None: ...


class MemoryPresence:
    def __init__(self) -> None:
        self._online: dict[str, set[str]] = defaultdict(set)
        self._away: dict[str, set[str]] = defaultdict(set)

    async def mark_online(self, company_id: str, user_ids: list[str]) -> None:
        self._online[company_id].update(user_ids)

    async def set_away(self, company_id: str, user_id: str, away: bool) -> Status | None:
        if away:
            self._away[company_id].add(user_id)
        else:
            self._away[company_id].discard(user_id)
        return "away" if away else "online"

    async def mark_offline(self, company_id: str, user_id: str) -> bool:
        self._online[company_id].discard(user_id)
        self._away[company_id].discard(user_id)
        return True

    async def online(self, company_id: str, user_ids: list[str]) -> set[str]:
        return self._online[company_id].intersection(user_ids)

    async def statuses(self, company_id: str, user_ids: list[str]) -> dict[str, Status]:
        away = self._away[company_id]
        return {
            u: "away" if u in away else "online"
            for u in self._online[company_id].intersection(user_ids)
        }

    async def close(self) -> None:
        self._online.clear()
        self._away.clear()


class RedisPresence:
    """A hash per company: field "<user>|<process>" holds the time that entry expires,
    followed by "|away" while the person is away on that process.

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
        # (company, person) away on this process: a refresh writes them as away again.
        self._away: set[tuple[str, str]] = set()

    def _entry(self, company_id: str, user_id: str, expires: float) -> str:
        away = (company_id, user_id) in self._away
        return f"{expires}|away" if away else str(expires)

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
                pipe.hset(
                    key,
                    mapping={
                        f"{u}|{self._process}": self._entry(company_id, u, expires)
                        for u in user_ids
                    },
                )
                pipe.expire(key, int(self._ttl * 2) + 1)
                await pipe.execute()
        except REDIS_FAILURES as error:
            self._outage.failed(describe(error))
            return
        self._outage.succeeded()

    async def set_away(self, company_id: str, user_id: str, away: bool) -> Status | None:
        """None while Redis is away (the next refresh records it)."""
        if away:
            self._away.add((company_id, user_id))
        else:
            self._away.discard((company_id, user_id))
        entry = self._entry(company_id, user_id, time.time() + self._ttl)
        try:
            await self._client.hset(self._key(company_id), f"{user_id}|{self._process}", entry)
            found = await self._statuses(company_id, [user_id])
        except REDIS_FAILURES as error:
            self._outage.failed(describe(error))
            return None
        self._outage.succeeded()
        return found.get(user_id)

    async def mark_offline(self, company_id: str, user_id: str) -> bool:
        """False while Redis is away: whether the person is still connected to another
        process is unknown, and announcing them offline on a guess would be wrong for
        everyone watching; this process's entry expires within the TTL anyway."""
        key = self._key(company_id)
        self._away.discard((company_id, user_id))
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

    async def statuses(self, company_id: str, user_ids: list[str]) -> dict[str, Status]:
        """Empty while Redis is away, as online() is."""
        try:
            found = await self._statuses(company_id, user_ids)
        except REDIS_FAILURES as error:
            self._outage.failed(describe(error))
            return {}
        self._outage.succeeded()
        return found

    async def _online(self, company_id: str, user_ids: list[str]) -> set[str]:
        return set(await self._statuses(company_id, user_ids))

    async def _statuses(self, company_id: str, user_ids: list[str]) -> dict[str, Status]:
        """Online when any process's live entry is not away; away when all are."""
        wanted = set(user_ids)
        now = time.time()
        entries = await self._client.hgetall(self._key(company_id))
        found: dict[str, Status] = {}
        for field, value in entries.items():
            user_id = str(field).split("|", 1)[0]
            expires, _, mark = str(value).partition("|")
            if user_id not in wanted or float(expires) <= now:
                continue
            if mark != "away":
                found[user_id] = "online"
            else:
                found.setdefault(user_id, "away")
        return found

    async def close(self) -> None:
        await self._client.aclose()
