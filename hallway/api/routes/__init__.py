"""One module per area of the HTTP API."""

from __future__ import annotations

from typing import Any

from hallway.api.schemas import ErrorBody

# Each API router carries the prefix itself: the app takes their routes as one flat list
# (hallway/api/app.py) rather than through include_router.
API_PREFIX = "/api/v1"

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "missing, invalid or expired token"},
    404: {"model": ErrorBody, "description": "absent, or not visible to the caller"},
    422: {"model": ErrorBody, "description": "invalid input; `details` names the field"},
}

# Routes that count requests against a rate limit (docs/security.md, "Limits").
RATE_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {
        "model": ErrorBody,
        "description": "`rate_limited`: too many requests; `details.retry_after` and the "
        "`Retry-After` header give the whole seconds to wait",
        "headers": {
            "Retry-After": {
                "description": "whole seconds until the request would be taken (at least 1)",
                "schema": {"type": "integer", "minimum": 1},
            }
        },
    }
}
