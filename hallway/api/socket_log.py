"""One log line per realtime socket, when it ends: which socket and whose, how long it lasted,
how many frames it carried each way, and how it closed.

The line holds ids, counts and the close; never a token or a frame's content. A close reason
is logged only when the server closed: it is then one of the server's own words, while a
client's reason is whatever text the client chose.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Literal

from hallway.domain.actor import Actor

log = logging.getLogger("hallway.sockets")

CLOSE_ABNORMAL = 1006  # RFC 6455: the connection ended without a close frame


@dataclass(frozen=True, slots=True)
class SocketEnd:
    """How a socket closed: the code of the close that ended it, and who sent that close
    (`network`: nobody did; the connection was lost)."""

    code: int
    reason: str
    by: Literal["server", "client", "network"]


LOST = SocketEnd(CLOSE_ABNORMAL, "", "network")


def closed_by_server(code: int, reason: str) -> SocketEnd:
    return SocketEnd(code, reason, "server")


def closed_by_client(code: int) -> SocketEnd:
    return SocketEnd(code, "", "client")


def log_socket_end(
    socket_id: str,
    actor: Actor | None,
    started: float,
    frames: tuple[int, int],
    end: SocketEnd,
) -> None:
    """`actor`: None if the socket never authenticated; `started`: time.monotonic() at the
    handshake; `frames`: received from the client, then written to it."""
    if not log.isEnabledFor(logging.INFO):
        return
    duration_ms = round((time.monotonic() - started) * 1000, 1)
    log.info(
        "socket %s closed %d by %s after %.1f s",
        socket_id,
        end.code,
        end.by,
        duration_ms / 1000,
        extra={
            "socket_id": socket_id,
            "user_id": None if actor is None else actor.user_id,
            "company_id": None if actor is None else actor.company_id,
            "duration_ms": duration_ms,
            "frames_in": frames[0],
            "frames_out": frames[1],
            "close_code": end.code,
            "close_reason": end.reason,
            "closed_by": end.by,
        },
    )
