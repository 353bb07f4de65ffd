"""One module per area of the HTTP API."""

from __future__ import annotations

from typing import Any

from hallway.api.schemas import ErrorBody

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "missing, invalid or expired token"},
    404: {"model": ErrorBody, "description": "absent, or not visible to the caller"},
    422: {"model": ErrorBody, "description": "invalid input; `details` names the field"},
}
