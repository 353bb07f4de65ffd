"""The browser client's files, served at / beside the API."""

from __future__ import annotations

from pathlib import Path

from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.routing import Match, Mount, Route
from starlette.types import Scope

_READS = frozenset({"GET", "HEAD"})


class WebClientMount(Mount):
    """The client's files at /, for GET and HEAD outside /api/.

    A mount at / matches every path, and Starlette takes the first full match over a route
    that matched the path but not the method. Mounted plainly, it answered a request the
    API has no route for (`POST /api/v1/nope`) and a method an API route lacks
    (`DELETE /api/v1/conversations`) with StaticFiles' bare 405. Stepping aside there lets
    the router answer 404, or 405 naming the allowed methods, in the API's error shape."""

    def __init__(self, directory: Path) -> None:
        super().__init__("/", app=StaticFiles(directory=directory, html=True), name="web")

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] not in _READS:
            return Match.NONE, {}
        if _route_path(scope).startswith("/api/"):
            return Match.NONE, {}
        return super().matches(scope)


def diagnostics_route(directory: Path) -> Route:
    """The client's self-check page at /diagnostics (StaticFiles serves `diagnostics.html`
    only under its full name)."""
    page = directory / "diagnostics.html"

    async def diagnostics(_request: Request) -> FileResponse:
        return FileResponse(page, media_type="text/html")

    return Route("/diagnostics", diagnostics, methods=["GET", "HEAD"], name="diagnostics")


def _route_path(scope: Scope) -> str:
    """The path as Starlette's routing matches it: after the app's root_path (a proxy's
    prefix), which an ASGI scope's path includes."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and (path == root_path or path.startswith(root_path + "/")):
        return path[len(root_path) :]
    return path
