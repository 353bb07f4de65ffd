"""DirectRoute: an APIRoute for the hottest requests, handled without FastAPI's per-request
dependency solving.

FastAPI documents a DirectRoute from its endpoint's signature like any other route (the
OpenAPI document does not change), but each request of a plain APIRoute walks the
endpoint's dependency tree, builds cache keys for it, parses the JSON body and only then
validates it: about 200 us of a send's 500 in process (docs/benchmarks.md). A DirectRoute
reads the same signature once, when the route is built, and serves each request with what
it found there: the domain context, the bearer actor, path and query parameters through
FastAPI's own field validation, and the body through pydantic's JSON validator in one
pass. It takes only endpoints it can serve exactly so (the dependencies in
`hallway.api.deps`, one JSON body model, a returned Response) and refuses any other when
the app is built, so a change to such an endpoint cannot quietly lose a check.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Coroutine
from typing import Any, get_type_hints

from fastapi.dependencies.utils import request_params_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from hallway.api.deps import get_actor, get_ctx

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def _is_json(content_type: str | None) -> bool:
    # What FastAPI takes as a JSON body: application/json or application/<anything>+json.
    if not content_type:
        return False
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _body_errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]


def _validated(model: type[BaseModel], raw: bytes) -> BaseModel:
    """The body as `model`, parsed and validated in one pass by pydantic.

    pydantic's parser is stricter than the json module FastAPI reads bodies with, which
    takes a byte order mark, UTF-16 and lone surrogates: a body only json can read is
    read by json and validated as FastAPI would. One neither can read answers 400 at once,
    before the token is looked at, as FastAPI's does."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        if not any(error["type"] == "json_invalid" for error in exc.errors()):
            raise
        try:
            parsed = json.loads(raw)
        # JSONDecodeError, bytes in no encoding json detects, or nesting past its limit
        except (ValueError, RecursionError):
            raise RequestValidationError(_body_errors(exc)) from exc
    return model.model_validate(parsed)


class DirectRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        dependant, endpoint = self.dependant, self.endpoint
        refuse = f"DirectRoute {self.path}:"
        if not inspect.iscoroutinefunction(endpoint):
            raise TypeError(f"{refuse} the endpoint must be async")
        if get_type_hints(endpoint).get("return") is not Response:
            raise TypeError(f"{refuse} the endpoint must return a Response")
        ctx_names, actor_names = [], []
        for sub in dependant.dependencies:
            if sub.name is not None and sub.call is get_ctx and not sub.dependencies:
                ctx_names.append(sub.name)
            elif sub.name is not None and sub.call is get_actor and not sub.dependencies:
                actor_names.append(sub.name)
            else:
                raise TypeError(f"{refuse} unsupported dependency {sub.call!r}")
        if dependant.header_params or dependant.cookie_params:
            raise TypeError(f"{refuse} only path and query parameters and a JSON body")
        body_name: str | None = None
        body_model: type[BaseModel] | None = None
        if dependant.body_params:
            annotation = dependant.body_params[0].field_info.annotation
            if (
                len(dependant.body_params) > 1
                or self._embed_body_fields
                or not (isinstance(annotation, type) and issubclass(annotation, BaseModel))
            ):
                raise TypeError(f"{refuse} the body must be one pydantic model, not embedded")
            body_name, body_model = dependant.body_params[0].name, annotation
        path_params, query_params = dependant.path_params, dependant.query_params

        async def handle(request: Request) -> Response:
            values: dict[str, Any] = {}
            errors: list[Any] = []
            if body_model is not None and body_name is not None:
                raw = await request.body()
                if not raw:
                    errors.append({"type": "missing", "loc": ("body",), "msg": "Field required"})
                elif not _is_json(request.headers.get("content-type")):
                    errors.append(
                        {
                            "type": "model_attributes_type",
                            "loc": ("body",),
                            "msg": "send the body as application/json",
                        }
                    )
                else:
                    try:
                        values[body_name] = _validated(body_model, raw)
                    except ValidationError as exc:
                        errors.extend(_body_errors(exc))
            for name in ctx_names:
                values[name] = request.app.state.ctx
            for name in actor_names:
                values[name] = await get_actor(request)
            for fields, received in (
                (path_params, request.path_params),
                (query_params, request.query_params),
            ):
                found, field_errors = request_params_to_args(fields, received)
                values.update(found)
                errors.extend(field_errors)
            if errors:
                raise RequestValidationError(errors)
            response: Response = await endpoint(**values)
            return response

        return handle
