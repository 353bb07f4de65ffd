"""One JSON error shape for every failure: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match, Route

from hallway.api.request_log import REQUEST_ID
from hallway.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    LogTruncated,
    NotFound,
    RateLimited,
    TooLarge,
    Unauthenticated,
    Unavailable,
    UnsupportedMediaType,
)

log = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[DomainError], int] = {
    InvalidInput: 422,
    NotFound: 404,
    Conflict: 409,
    Unauthenticated: 401,
    Forbidden: 403,
    TooLarge: 413,
    UnsupportedMediaType: 415,
    Unavailable: 503,
    LogTruncated: 410,
    RateLimited: 429,
}

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The error, with the request's id (hallway/api/request_log.py) when there is one."""
    error: dict[str, Any] = {"code": code, "message": message, "details": details or {}}
    if (request_id := REQUEST_ID.get()) is not None:
        error["request_id"] = request_id
    return {"error": error}


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def status_for(exc: DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 400


def _field_name(loc: tuple[Any, ...]) -> str:
    # ("body", "member_ids", 0) -> "member_ids.0"; the location kind is not part of the name.
    parts = (
        [str(p) for p in loc[1:]]
        if loc and loc[0] in ("body", "query", "path")
        else [str(p) for p in loc]
    )
    return ".".join(parts) or str(loc[0] if loc else "request")


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = None
    if isinstance(exc, Unauthenticated):
        headers = {"WWW-Authenticate": "Bearer"}
    elif isinstance(exc, RateLimited):
        headers = {"Retry-After": str(exc.retry_after)}
    return error_response(status_for(exc), exc.code, exc.message, exc.details, headers)


def validation_failure(errors: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """The message and details of a `validation_error`, from pydantic's (or FastAPI's)
    errors: every field at fault, the first of them in the message."""
    fields = [
        {"field": _field_name(tuple(e.get("loc", ()))), "message": e.get("msg", "")} for e in errors
    ]
    first = fields[0] if fields else {"field": "request", "message": "invalid"}
    return f"{first['field']}: {first['message']}", {"fields": fields}


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "malformed_json", "the request body is not valid JSON")
    message, details = validation_failure(errors)
    return error_response(422, "validation_error", message, details)


def _allowed_methods(request: Request) -> str:
    """Every method the path takes. Starlette's 405 names only the methods of the first
    route that matched the path, and the API has one route per method."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if not isinstance(route, Route) or not route.methods:
            continue
        if route.matches(request.scope)[0] is not Match.NONE:
            methods |= route.methods
    return ", ".join(sorted(methods))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    headers = getattr(exc, "headers", None)
    if exc.status_code == 405 and headers and "Allow" in headers:
        headers = {**headers, "Allow": _allowed_methods(request)}
    return error_response(exc.status_code, code, str(exc.detail), headers=headers)


# nginx's status for a request its client gave up on; only the request log sees it.
CLIENT_CLOSED_REQUEST = 499


async def _client_disconnected(request: Request, _exc: Exception) -> Response:
    """The client went away while its body was being read (a closed tab, a cancelled
    upload): nobody is left to answer, and it is no fault of the server's."""
    log.info(
        "%s %s: the client disconnected before its body was read", request.method, request.url.path
    )
    return Response(status_code=CLIENT_CLOSED_REQUEST)


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    # Starlette answers this outside every middleware, RequestLog's too: the header is set
    # here.
    request_id = REQUEST_ID.get()
    headers = {"X-Request-Id": request_id} if request_id else None
    return error_response(
        500, "internal_error", "something went wrong on our side", headers=headers
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ClientDisconnect, _client_disconnected)
    app.add_exception_handler(Exception, _unexpected_error)
