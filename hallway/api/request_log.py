"""A request id for every HTTP request, its metrics, and (when asked) one log line when it
is answered.

The id is the caller's `X-Request-Id` when that is a short token (a proxy in front may have
set it), else one of this process's own. It goes back as the `X-Request-Id` header and
inside every error body (hallway/api/errors.py), so a person's report of a failure finds
its log line. The line names the method, the path without its query string (a signed file
link carries its signature there) and never a header or a body, so no token, password,
message or link reaches the log.

The metrics (hallway_http_request_duration_seconds, hallway_http_responses_total) name the
route's template (`/api/v1/conversations/{conversation_id}`), never the path: the paths are
as many as the ids. Counted here, in the layer that already times every request, rather than
in a middleware of its own that each request would pass through too.
"""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import time
from contextvars import ContextVar

from prometheus_client import Counter, Histogram
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hallway.metrics import HTTP_REQUEST_SECONDS, HTTP_RESPONSES
from hallway.store.acting import act_for_nobody

log = logging.getLogger("hallway.requests")

REQUEST_ID: ContextVar[str | None] = ContextVar("hallway_request_id", default=None)
HEADER = b"x-request-id"
_GIVEN = re.compile(rb"^[A-Za-z0-9._:-]{1,64}$")
# Unique across processes and restarts without a random draw per request.
_PROCESS = secrets.token_hex(4)
_COUNTER = itertools.count(1)
# The methods the metrics name; any other (a client may send any token) counts as `other`,
# so that no caller can add series.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def new_id() -> str:
    """An id unique across the deployment's processes and restarts: a request's, when its
    caller gave none, or a socket's."""
    return f"{_PROCESS}-{next(_COUNTER):x}"


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == HEADER and _GIVEN.match(value):
            return str(value.decode())
    return new_id()


# The metrics' children by their labels, found with one dict lookup per request rather than
# through `labels()`, which checks and converts its arguments each time. Bounded as the
# labels are: methods, routes, statuses.
_TIMERS: dict[tuple[str, str], Histogram] = {}
_ANSWERS: dict[tuple[str, str, int], Counter] = {}


def _count(method: str, route: str, status: int, seconds: float) -> None:
    timer = _TIMERS.get((method, route))
    if timer is None:
        timer = _TIMERS[method, route] = HTTP_REQUEST_SECONDS.labels(method, route)
    timer.observe(seconds)
    answers = _ANSWERS.get((method, route, status))
    if answers is None:
        answers = _ANSWERS[method, route, status] = HTTP_RESPONSES.labels(method, route, status)
    answers.inc()


def route_template(scope: Scope) -> str:
    """The template of the route that answered (the router leaves it in the scope), `/{path}`
    for a mount's files, or `unmatched` when no route did (a 404)."""
    route = scope.get("route")
    if isinstance(route, Mount):
        return f"{route.path}/{{path}}"
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class RequestLog:
    """`log_each`: a line per request (HALLWAY_ACCESS_LOG); the ids are given either way."""

    def __init__(self, app: ASGIApp, *, log_each: bool) -> None:
        self.app = app
        self.log_each = log_each

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        REQUEST_ID.set(request_id)
        # Each request starts acting for nobody in the database until it authenticates
        # (hallway.api.deps): an ASGI server that ran a connection's requests in one task
        # would otherwise hand one request's person to the next.
        act_for_nobody()
        started = time.perf_counter()
        status = 500  # what the caller gets if the app fails before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (HEADER, request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration = time.perf_counter() - started
            method = scope["method"] if scope["method"] in _METHODS else "other"
            _count(method, route_template(scope), status, duration)
            if self.log_each and log.isEnabledFor(logging.INFO):
                log.info(
                    "%s %s %d",
                    scope["method"],
                    scope["path"],
                    status,
                    extra={
                        "request_id": request_id,
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round(duration * 1000, 2),
                        "client": scope["client"][0] if scope.get("client") else None,
                    },
                )
