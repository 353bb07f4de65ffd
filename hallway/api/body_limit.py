"""A cap on request bodies, so no JSON request can make the server buffer without bound.

Uploads are the exception: their route streams the body to a staging file and enforces
HALLWAY_MAX_UPLOAD_BYTES itself (hallway/api/multipart_upload.py). FastAPI's own
`max_body_size` is not used: for a declared Content-Length over the limit it answers a
text/plain body instead of the API's error shape.
"""

from __future__ import annotations

import re

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hallway.api.errors import error_body

_STREAMED_UPLOAD = re.compile(r"^/api/v1/conversations/[^/]+/attachments$")
# An avatar upload streams too, under its own limit (hallway/domain/profiles.py).
_STREAMED_AVATAR = "/api/v1/me/avatar"


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """Answers 413 `too_large` for a body over `limit` bytes: at once when Content-Length
    says so, or as soon as a chunked body (or one without a usable Content-Length) passes
    it."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (
            (scope["method"] == "POST" and _STREAMED_UPLOAD.match(scope["path"]))
            or (scope["method"] == "PUT" and scope["path"] == _STREAMED_AVATAR)
        ):
            await self.app(scope, receive, send)
            return
        counted = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit():
                    counted = True
                elif int(value) > self.limit:
                    await self._refuse(send)
                    return
            elif name == b"transfer-encoding":
                counted = True
        if not counted:
            # The common case: a Content-Length under the limit, or no body. uvicorn's
            # httptools parser hands the app at most Content-Length bytes (what follows is
            # the next request) and none without Content-Length or chunked encoding, so
            # there is nothing to count and no need to wrap receive and send.
            await self.app(scope, receive, send)
            return
        received = 0
        exceeded = responded = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # Whatever the app makes of the interrupted read (FastAPI answers 400, an
            # unexpected error 500), the client is told the real reason, once.
            nonlocal responded
            if not exceeded:
                await send(message)
            elif not responded:
                responded = True
                await self._refuse(send)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except BodyTooLarge:
            if not responded:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = orjson.dumps(
            error_body(
                "too_large",
                f"request bodies are limited to {self.limit} bytes",
                {"limit": self.limit},
            )
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
