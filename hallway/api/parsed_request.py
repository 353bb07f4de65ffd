"""The hottest routes (a send, a history window) read their request themselves, through
public APIs only: the path, the actor from the bearer token (hallway.api.deps.get_actor),
query parameters and the JSON body validated by pydantic models. They declare nothing but
the request, so FastAPI has nothing to solve for them: its dependency solving costs more CPU
than a window's query. The body is parsed once, by pydantic's own JSON parser, rather than
by the json module and then validated again as Python objects.

Each answers bad input exactly as FastAPI would for declared parameters (the same checks,
errors and error shape), and documents what it reads itself (`documented`).
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from hallway.api.deps import get_actor
from hallway.domain.actor import Actor
from hallway.domain.context import DomainContext

_Model = TypeVar("_Model", bound=BaseModel)


def documented(
    *,
    path: tuple[str, ...] = (),
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
) -> dict[str, Any]:
    """The route's `openapi_extra`: the bearer token, and the path parameters (strings),
    the query parameters and the required JSON body it reads."""
    extra: dict[str, Any] = {"security": [{"HTTPBearer": []}]}
    extra["parameters"] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "title": name.replace("_", " ").title()},
        }
        for name in path
    ]
    if query is not None:
        schema = query.model_json_schema()
        extra["parameters"] += [
            {
                "name": name,
                "in": "query",
                "required": name in schema.get("required", ()),
                "schema": field,
            }
            for name, field in schema["properties"].items()
        ]
    if body is not None:
        extra["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body.model_json_schema()}},
        }
    return extra


def path_parameter(request: Request, name: str) -> str:
    value: str = request.path_params[name]
    return value


def context(request: Request) -> DomainContext:
    ctx: DomainContext = request.app.state.ctx
    return ctx


async def actor(request: Request) -> Actor:
    """The actor behind the request's bearer token; Unauthenticated without one."""
    return await get_actor(request)


def query(request: Request, model: type[_Model]) -> _Model:
    """The request's query parameters as `model` (a repeated one: its last value)."""
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise RequestValidationError(_errors("query", exc)) from exc


async def json_body(request: Request, model: type[_Model]) -> _Model:
    """The request's body as `model`; RequestValidationError as FastAPI raises it for a
    body parameter: the body missing, not sent as JSON, not JSON, or not the model."""
    raw = await request.body()
    if not raw:
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required"}
        raise RequestValidationError([missing])
    if not _is_json(request.headers.get("content-type")):
        not_json = {
            "type": "model_attributes_type",
            "loc": ("body",),
            "msg": "send the body as application/json",
        }
        raise RequestValidationError([not_json])
    try:
        return _validated(model, raw)
    except ValidationError as exc:
        raise RequestValidationError(_errors("body", exc)) from exc


def _is_json(content_type: str | None) -> bool:
    # What FastAPI takes as a JSON body: application/json or application/<anything>+json.
    if not content_type:
        return False
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _errors(where: str, exc: ValidationError) -> list[dict[str, Any]]:
    return [{**error, "loc": (where, *error["loc"])} for error in exc.errors()]


def _validated(model: type[_Model], raw: bytes) -> _Model:
    """pydantic's parser is stricter than the json module FastAPI reads bodies with, which
    takes a byte order mark, UTF-16 and lone surrogates: a body only json can read is read
    by json and then validated, as FastAPI would. One neither can read is not JSON."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        if not any(error["type"] == "json_invalid" for error in exc.errors()):
            raise
        try:
            parsed = json.loads(raw)
        # JSONDecodeError, bytes in no encoding json detects, or nesting past its limit
        except (ValueError, RecursionError):
            raise RequestValidationError(_errors("body", exc)) from exc
    return model.model_validate(parsed)
