"""GET /metrics: the process's metrics (hallway/metrics.py) in Prometheus' text format, for
a scraper that holds HALLWAY_METRICS_TOKEN.

Never public: without the setting the route answers 404 as for any unknown path, and with
it only `Authorization: Bearer <token>` is answered. Under `hallway serve --workers N`
(PROMETHEUS_MULTIPROC_DIR set, hallway/serving.py) whichever process takes the scrape
answers for all of them, from the files each keeps its values in.
"""

from __future__ import annotations

import asyncio
import hmac
import os

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from starlette.exceptions import HTTPException

from hallway.api.errors import error_response

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

router = APIRouter()


def _exposition() -> bytes:
    if MULTIPROCESS_DIR_VARIABLE in os.environ:
        # A registry per scrape, as prometheus-client's multiprocess mode asks: the
        # collector reads every process's files when it is collected.
        registry = CollectorRegistry()
        # prometheus-client leaves this one constructor without type hints.
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def _bearer_matches(authorization: str | None, token: str) -> bool:
    scheme, _, given = (authorization or "").partition(" ")
    # Compared in constant time: how long a wrong guess took says nothing of the token.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    token: str | None = request.app.state.settings.metrics_token
    if token is None:
        raise HTTPException(404)  # what any path the app does not serve answers
    if not _bearer_matches(request.headers.get("authorization"), token):
        return error_response(
            401,
            "unauthenticated",
            "send Authorization: Bearer <HALLWAY_METRICS_TOKEN>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    # Off the event loop: the multiprocess collector reads files, and either way the text
    # grows with the number of routes.
    body = await asyncio.to_thread(_exposition)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
