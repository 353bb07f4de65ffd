"""Health and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from hallway.api.errors import error_response

router = APIRouter(tags=["ops"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(request: Request) -> Any:
    """Ready for traffic: the database answers (and the broker, when Redis is configured)."""
    try:
        await request.app.state.ctx.db.ping()
    except Exception as exc:
        return error_response(503, "database_unavailable", f"the database does not answer: {exc}")
    try:
        await request.app.state.broker.ping()
    except Exception as exc:
        return error_response(503, "broker_unavailable", f"the broker does not answer: {exc}")
    return JSONResponse({"status": "ready"})
