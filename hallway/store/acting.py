"""Whom the database acts for: the person whose rows a transaction may touch.

On PostgreSQL with an app role that row-level security holds (docs/architecture.md,
"Row-level security"), every transaction and every statement run alone first tells the
database who is acting, as the settings `hallway.user_id`, `hallway.company_id` and
`hallway.system`; the policies of migration 0010 read them. Elsewhere (SQLite, or the
owner's role, which the policies do not hold) the settings are not sent at all.

The acting person of a task is a context variable: the HTTP edge sets it once it knows the
Actor, the realtime edge around each frame; the conversation log's hot statements take
theirs explicitly (hallway.store.message_log.Member). Work that must see across people
(the attachment sweep, the realtime feeds, signed file links, account deletion) runs
`as_system()`, which the policies honour only for members of the role `hallway_system`.
Nobody set means nobody: under row-level security such a transaction sees no protected row.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

SYSTEM_ROLE = "hallway_system"
"""The PostgreSQL role whose members may act as the system (see migration 0010)."""


@dataclass(frozen=True, slots=True)
class Acting:
    """One value of the three settings."""

    user_id: str
    company_id: str
    system: bool = False

    def settings(self) -> tuple[str, str, str]:
        """`hallway.user_id`, `hallway.company_id` and `hallway.system`, in that order."""
        return self.user_id, self.company_id, "on" if self.system else "off"


NOBODY = Acting("", "")
SYSTEM = Acting("", "", system=True)

_acting: ContextVar[Acting] = ContextVar("hallway_acting", default=NOBODY)


def current() -> Acting:
    return _acting.get()


def act_as(user_id: str, company_id: str) -> None:
    """The person acting for the rest of this task (one HTTP request runs in a task of its
    own, so it ends with the request)."""
    _acting.set(Acting(user_id, company_id))


def act_for_nobody() -> None:
    """Nobody acts for the rest of this task, until someone is named."""
    _acting.set(NOBODY)


@contextmanager
def acting(who: Acting) -> Iterator[None]:
    """`who` acts inside the block; whoever acted before, after it."""
    token = _acting.set(who)
    try:
        yield
    finally:
        _acting.reset(token)


@contextmanager
def as_system() -> Iterator[None]:
    """Work that must see across people, after the domain has decided it may."""
    with acting(SYSTEM):
        yield
