"""Health and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from hallway.api.errors import error_response
from hallway.api.routes import Responses
from hallway.realtime.broker import BrokerUnavailable

log = logging.getLogger(__name__)

router = APIRouter(tags=["ops"])


# HEAD too: load balancers' health checks often use it. The server sends no body for a HEAD.
@router.get("/healthz")
@router.head("/healthz", operation_id="healthz_head")
async def healthz() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}


_NOT_READY: Responses = {
    503: {"description": "`database_unavailable`, `storage_unavailable` or `broker_unavailable`"}
}


@router.get("/readyz", response_model=None, responses=_NOT_READY)
@router.head("/readyz", response_model=None, responses=_NOT_READY, operation_id="readyz_head")
async def readyz(request: Request) -> Any:
    """Ready for traffic: the database, the file storage and (when Redis is configured) the
    broker answer."""
    # The probe is public: why a dependency is down goes to the log, not to the caller.
    try:
        await request.app.state.ctx.db.ping()
    except Exception:
        log.warning("readiness: the database does not answer", exc_info=True)
        return error_response(503, "database_unavailable", "the database does not answer")
    try:
        await request.app.state.ctx.storage.ping()
    except Exception:
        log.warning("readiness: the file storage does not answer", exc_info=True)
        return error_response(503, "storage_unavailable", "the file storage does not answer")
    try:
        await request.app.state.broker.ping()
    except BrokerUnavailable:
        # The broker logs an outage itself, once: not again for every probe.
        return error_response(503, "broker_unavailable", "the broker does not answer")
    except Exception:
        log.warning("readiness: the broker's ping failed", exc_info=True)
        return error_response(503, "broker_unavailable", "the broker does not answer")
    return JSONResponse({"status": "ready"})
