"""One log line when this process loses Redis, one when it has it again.

While Redis is away every publish, presence refresh, readiness probe and rate-limit check
would fail, and a line for each would bury everything else in the log. The broker,
presence and the rate limits report each failure and success here instead, and only the
changes are logged.
"""

from __future__ import annotations

import logging

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# How long a redis-py command (PING, presence) may take, connecting included, before Redis
# counts as unreachable.
COMMAND_SECONDS = 2.0

# What a Redis that is away, or answers with errors, makes a redis-py command raise.
REDIS_FAILURES = (RedisError, OSError)


class RedisOutageLog:
    """Whether this process's last use of Redis failed; logs when that changes."""

    def __init__(self) -> None:
        self.down = False

    def failed(self, reason: str) -> None:
        if not self.down:
            self.down = True
            log.warning(
                "redis unreachable (%s): live frames reach only this process's sockets "
                "until it is back, the others catch up from the log; rate limits let every "
                "request through",
                reason,
            )

    def succeeded(self) -> None:
        if self.down:
            self.down = False
            # A warning like the line that began the outage, so a log kept at warning
            # level shows both ends of it.
            log.warning("redis reachable again")


def describe(error: BaseException) -> str:
    """An error in a few words for the log line (a TimeoutError's own text is empty)."""
    return str(error) or type(error).__name__


def fail_fast_client(url: str, *, decode_responses: bool = False) -> redis.Redis:
    """A redis-py client that gives up within COMMAND_SECONDS and does not retry. redis-py
    would otherwise retry ten times with growing pauses, and while Redis is away a
    readiness probe must still answer, and a socket's attach go on, promptly. (A pooled
    connection that Redis closed is replaced before it is used, without a retry.)"""
    return redis.Redis.from_url(
        url,
        decode_responses=decode_responses,
        socket_connect_timeout=COMMAND_SECONDS,
        socket_timeout=COMMAND_SECONDS,
        retry=Retry(NoBackoff(), 0),
    )
