"""The OpenAPI document, with every error answer an operation can give.

Most errors follow from an operation's shape rather than from what it does: a bearer token
can be refused, a JSON body can be unreadable or too large, a parameter can have the wrong
shape. Those are derived here, from the document itself, so that no route can forget one
and a new route is documented truthfully without writing them down again. Routes declare
only the answers of their own (a 409, a 403, a 429), as descriptions; every 4xx and 5xx,
theirs and these, is given the one error body (hallway/api/errors.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from hallway.api.schemas import ErrorBody

_REF = "#/components/schemas/{model}"
_ERROR_CONTENT = {"application/json": {"schema": {"$ref": _REF.format(model=ErrorBody.__name__)}}}
# What FastAPI documents for a 422 of its own: a shape that Hallway never answers.
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")

MALFORMED_JSON = "`malformed_json`: the body is not JSON"
UNAUTHENTICATED = "missing, invalid or expired token (docs/api.md, Auth)"
NOT_FOUND = "`not_found`: absent, or not visible to the caller"
TOO_LARGE = "`too_large`: the body is over `HALLWAY_MAX_REQUEST_BYTES`"
INVALID = (
    "`validation_error`: a parameter or the body has the wrong shape (`details.fields` "
    "names each field at fault); or a more specific code naming its `details.field`"
)


def install_openapi(app: FastAPI) -> None:
    """Serve the document with its derived error answers (FastAPI's documented way of
    extending it: replacing `app.openapi`). It is built once, at its first request."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_error_answers(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def with_error_answers(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with each operation's derived error answers added and every error answer
    given the error body."""
    for methods in document.get("paths", {}).values():
        for operation in methods.values():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            for status, description in derived_errors(operation).items():
                known = responses.get(status)
                if known is None or _is_fastapi_validation_error(known):
                    responses[status] = {"description": description}
            for status, response in responses.items():
                if status[0] in "45":
                    response["content"] = _ERROR_CONTENT
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    error_schema = ErrorBody.model_json_schema(ref_template=_REF)
    schemas.update(error_schema.pop("$defs", {}))
    schemas[ErrorBody.__name__] = error_schema
    return document


def derived_errors(operation: dict[str, Any]) -> dict[str, str]:
    """The error answers, by status, that an operation of this shape can give whatever it
    does."""
    parameters = operation.get("parameters", [])
    body = operation.get("requestBody")
    authenticated = bool(operation.get("security"))
    errors: dict[str, str] = {}
    if body is not None and "application/json" in body.get("content", {}):
        # The body is read as JSON (400), and every body but an upload's is capped
        # (hallway/api/body_limit.py; an upload documents its own 413).
        errors["400"] = MALFORMED_JSON
        errors["413"] = TOO_LARGE
    if authenticated:
        errors["401"] = UNAUTHENTICATED
    if authenticated or any(p.get("in") == "path" for p in parameters):
        # What an authenticated request names, or what its path names, may be gone or
        # not be the caller's to see.
        errors["404"] = NOT_FOUND
    if parameters or body is not None:
        errors["422"] = INVALID
    return errors


def _is_fastapi_validation_error(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return str(schema.get("$ref", "")).rsplit("/", 1)[-1] in _FASTAPI_VALIDATION_SCHEMAS
