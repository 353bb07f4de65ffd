"""One module per area of the HTTP API.

Routes document only the error answers of their own, as descriptions: those that follow
from an operation's shape (400, 401, 404, 413, 422), and the error body of every error
answer, are added to the document by hallway/api/openapi.py."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from hallway.api.schemas import CURSOR_DESCRIPTION, CURSOR_RULE

# Each API router carries the prefix itself: the app takes their routes as one flat list
# (hallway/api/app.py) rather than through include_router.
API_PREFIX = "/api/v1"

Responses = dict[int | str, dict[str, Any]]

# A page cursor parameter: its form is the domain's to check (`invalid_cursor`).
Cursor = Annotated[
    str | None,
    Query(max_length=200, description=CURSOR_DESCRIPTION, json_schema_extra=CURSOR_RULE),
]

# Routes that count requests against a rate limit (docs/security.md, "Limits").
RATE_LIMITED: Responses = {
    429: {
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
