"""Rate limits: how often one person, client address or socket may do a thing.

Counted by the `limits` library in fixed windows: one counter per window, and a hit is one
increment of it (in Redis, one command). Every window of a limit is checked, so with
"5 per 15 minutes; 20 per day" whoever keeps going waits longer each time.

With HALLWAY_REDIS_URL the counters live in Redis under the same keys on every node, so the
nodes share each budget; without it, in this process's memory. A socket's frames are
always counted in its own process, where the socket lives. When Redis does not answer, the
limits let requests through rather than fail them (fail open), and say so to the outage
log the app shares with the broker and presence: one line when Redis goes, one when it is
back, whoever noticed.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Protocol

from limits import RateLimitItem, parse_many
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter

from hallway.config import Settings
from hallway.domain.errors import RateLimited
from hallway.metrics import RATE_LIMIT_REFUSALS
from hallway.store.counters import STORAGE_FAILURES, RedisCounters, memory_counters


class OutageLog(Protocol):
    """Told how each use of Redis went; logs only the changes
    (hallway.realtime.redis_outage.RedisOutageLog)."""

    def failed(self, reason: str) -> None: ...

    def succeeded(self) -> None: ...


# After Redis failed, how long the limits let everything through without asking it again:
# while Redis is away one request a second waits for it, not every request.
OUTAGE_RECHECK_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Limit:
    """One kind of limit: its name (part of each counter's key) and its windows."""

    name: str
    windows: tuple[RateLimitItem, ...]


@dataclass(frozen=True, slots=True)
class Hit:
    storage: Storage
    window: RateLimitItem
    name: str
    key: str


Taken = tuple[Hit, ...]
"""The hits one request took, to give back if it turns out not to count."""


def hashed(text: str) -> str:
    """A key for something that should not be stored as it is (an email address)."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


async def _retry_after(
    limiter: FixedWindowRateLimiter, limit: Limit, window: RateLimitItem, key: str
) -> int:
    stats = await limiter.get_window_stats(window, limit.name, key)
    return max(1, math.ceil(stats.reset_time - time.time()))


async def _give_back(hits: Taken) -> None:
    # A fixed window's counter is a plain count: giving a hit back is adding -1 to it.
    for hit in hits:
        await hit.storage.incr(hit.window.key_for(hit.name, hit.key), hit.window.get_expiry(), -1)


class RateLimits:
    """The limits of one process, on the settings' windows. `outage` hears how each use of
    Redis went (none: nobody is told)."""

    def __init__(self, settings: Settings, outage: OutageLog | None = None) -> None:
        self.enabled = settings.rate_limiting
        self.login_account = _limit("login-account", settings.login_failures_per_account)
        self.login_address = _limit("login-address", settings.login_failures_per_address)
        self.signup = _limit("signup", settings.signups_per_address)
        self.join = _limit("join", settings.joins_per_address)
        self.send = _limit("send", settings.sends_per_person)
        self.upload = _limit("upload", settings.uploads_per_person)
        self.search = _limit("search", settings.searches_per_person)
        self.edit = _limit("edit", settings.edits_per_person)
        self.ws_frames = _limit("ws-frames", settings.ws_frames_per_connection)
        self._redis: RedisCounters | None = None
        self._storages: dict[str, Storage] = {}
        self._limiters: dict[str, FixedWindowRateLimiter] = {}
        shared: Storage | None = None
        if self.enabled and settings.redis_url:
            self._redis = RedisCounters(settings.redis_url, settings.rate_limit_key_prefix)
            shared = self._redis.storage
        for limit in (
            self.login_account,
            self.login_address,
            self.signup,
            self.join,
            self.send,
            self.upload,
            self.search,
            self.edit,
        ):
            # A memory storage of its own per kind: its expiry pass looks at every key it
            # holds on each hit, so one storage for all kinds would make a send pay for
            # every login counter of the day.
            storage = shared or memory_counters()
            self._storages[limit.name] = storage
            self._limiters[limit.name] = FixedWindowRateLimiter(storage)
        self._skip_until = 0.0
        self._outage = outage

    @classmethod
    def off(cls) -> RateLimits:
        """No limits (the command line's own context)."""
        return cls(Settings.model_construct(rate_limiting=False))

    async def hit(self, limit: Limit, key: str) -> None:
        """Count one request under `key`; RateLimited if a window of the limit is full."""
        await self.take((limit, key))

    async def take(self, *claims: tuple[Limit, str]) -> Taken:
        """Count one request against each (limit, key): every window of each. RateLimited,
        having given back what this call took, if one of them is full; else the hits taken
        (none when limits are off or Redis does not answer)."""
        if not self.enabled or time.monotonic() < self._skip_until:
            return ()
        taken: list[Hit] = []
        try:
            for limit, key in claims:
                limiter, storage = self._limiters[limit.name], self._storages[limit.name]
                for window in limit.windows:
                    if not await limiter.hit(window, limit.name, key):
                        retry_after = await _retry_after(limiter, limit, window, key)
                        await _give_back(tuple(taken))
                        self._answered()
                        RATE_LIMIT_REFUSALS.labels(limit.name).inc()
                        raise RateLimited(retry_after)
                    taken.append(Hit(storage, window, limit.name, key))
        except STORAGE_FAILURES as exc:
            self._failed(exc)
            return ()
        self._answered()
        return tuple(taken)

    async def give_back(self, taken: Taken) -> None:
        """Uncount the hits of a request that does not count after all."""
        if not taken:
            return
        try:
            await _give_back(taken)
        except STORAGE_FAILURES as exc:
            self._failed(exc)

    def socket_frames(self) -> SocketFrames | None:
        """A counter for one socket's frames (None when limits are off)."""
        return SocketFrames(self.ws_frames) if self.enabled else None

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.close()

    def _failed(self, error: BaseException) -> None:
        self._skip_until = time.monotonic() + OUTAGE_RECHECK_SECONDS
        if self._outage is not None:
            self._outage.failed(str(error) or type(error).__name__)

    def _answered(self) -> None:
        if self._outage is not None and self._redis is not None:
            self._outage.succeeded()


class SocketFrames:
    """One socket's frame counter, in a memory storage of its own: the storage's expiry pass
    looks at every key it holds on each hit, so one storage for all of a process's sockets
    would make each frame pay for every socket."""

    __slots__ = ("_limit", "_limiter")

    def __init__(self, limit: Limit) -> None:
        self._limit = limit
        self._limiter = FixedWindowRateLimiter(memory_counters())

    async def hit(self) -> None:
        """Count a frame; RateLimited if a window is full."""
        limit = self._limit
        for window in limit.windows:
            if not await self._limiter.hit(window, limit.name, "socket"):
                RATE_LIMIT_REFUSALS.labels(limit.name).inc()
                raise RateLimited(await _retry_after(self._limiter, limit, window, "socket"))


def _limit(name: str, text: str) -> Limit:
    return Limit(name, tuple(parse_many(text)))
