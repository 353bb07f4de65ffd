"""uvicorn's httptools protocol, writing each response's head and body in one write.

uvicorn writes the status line and headers as soon as the app starts a response, and the
body separately. On loopback each write is a system call that also wakes the reader, and
profiling the send path put 20 % of the server's CPU on the head's write alone
(docs/benchmarks.md). Holding the head until the first body bytes makes one write of both;
nothing waits longer, since a client can't use a head without its body.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_CONTINUE = b"HTTP/1.1 100 "


class HeadWithBodyWriter:
    """The transport as one request's RequestResponseCycle sees it: its first write (the
    response head, unless it is a `100 Continue`) is held and sent with the next write or
    before closing."""

    __slots__ = ("_head", "_head_seen", "transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self._head: bytes | None = None
        self._head_seen = False

    def write(self, data: bytes) -> None:
        if not self._head_seen and not data.startswith(_CONTINUE):
            self._head_seen = True
            self._head = data
            return
        if self._head is not None:
            data, self._head = self._head + data, None
        self.transport.write(data)

    def close(self) -> None:
        if self._head is not None:
            self.transport.write(self._head)
            self._head = None
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()


class HallwayHttpProtocol(HttpToolsProtocol):
    def on_headers_complete(self) -> None:
        before = self.cycle
        super().on_headers_complete()
        if self.cycle is not None and self.cycle is not before:  # not for an upgrade
            self.cycle.transport = HeadWithBodyWriter(self.transport)  # type: ignore[assignment]
