"""`hallway serve`'s HTTP edge: the limits a connection meets before uvicorn parses a request.

uvicorn's HTTP protocol (httptools) keeps a request's head however long it grows, and arms
no timer before a connection's first request or while a head trickles in; h11 with
`h11_max_incomplete_event_size` bounds the head but answers 400 and parses every request
in Python. So `hallway serve` gives uvicorn this asyncio.Protocol through its public `http=`
option. It owns each connection and hands every byte on to uvicorn's own
HttpToolsProtocol (composed, not subclassed), after reading it with an httptools parser of
its own that only marks where each request's head begins and ends: it has no URL or header
callback, so it keeps nothing.

- A head longer than `max_head_bytes` is answered 431 and the connection closed; the bytes
  that made it too long never reach uvicorn's parser.
- A head not finished within `head_timeout_seconds` (of the connection opening, or of a
  later request's first byte) closes the connection. Between requests uvicorn's own
  `timeout_keep_alive` applies.
- A connection from an address that already has its `ConnectionCounts` cap open is read up
  to the end of its first head and answered 429 `too_many_connections`, then closed.

After a WebSocket upgrade this object stays the transport's protocol and only passes events
on to the WebSocket protocol, so the address's place is given back when the socket closes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import httptools
import orjson
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from hallway.api.connection_counts import ConnectionCounts
from hallway.api.errors import error_body

# The most the edge's parser reads at a time (one read from a socket may be 256 KiB).
_SLICE_BYTES = 8192


@dataclass(frozen=True)
class EdgeLimits:
    max_head_bytes: int
    head_timeout_seconds: float
    connections: ConnectionCounts


def _refusal(status: int, reason: str, code: str, message: str, limit: int) -> bytes:
    body = orjson.dumps(error_body(code, message, {"limit": limit}))
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class HttpEdge(asyncio.Protocol):
    """One client connection; uvicorn's HTTP protocol (and after an upgrade the WebSocket
    protocol) does the rest. Built for a set of limits by `http_edge`."""

    limits: ClassVar[EdgeLimits]
    head_too_large: ClassVar[bytes]
    too_many_connections: ClassVar[bytes]

    __slots__ = (
        "_address",
        "_admitted",
        "_app_state",
        "_config",
        "_head_bytes",
        "_head_timer",
        "_heads_begun",
        "_in_head",
        "_inner",
        "_loop",
        "_parser",
        "_refused",
        "_server_state",
        "transport",
    )

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._config = config
        self._server_state = server_state
        self._app_state = app_state
        self._loop = _loop or asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self._address: str | None = None
        self._admitted = False
        # uvicorn's protocol, then (after an upgrade) the WebSocket protocol; none for a
        # connection refused over the cap.
        self._inner: asyncio.Protocol | None = None
        # None once the connection is no longer HTTP/1.1 requests (an upgrade).
        self._parser: httptools.HttpRequestParser | None = httptools.HttpRequestParser(self)
        # uvicorn's parser takes data after `Connection: close`; the edge's must agree.
        self._parser.set_dangerous_leniencies(lenient_data_after_close=True)
        # A connection opens waiting for a head.
        self._in_head = True
        self._head_bytes = 0
        self._heads_begun = 0
        self._head_timer: asyncio.TimerHandle | None = None
        # Answered 431 or 429: what the client still sends is read and dropped.
        self._refused = False

    # --- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport, though uvloop's are not asyncio.Transport subclasses.
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self._address = peer[0] if isinstance(peer, tuple) else None
        self._admitted = self.limits.connections.admit(self._address)
        self._head_timer = self._loop.call_later(
            self.limits.head_timeout_seconds, self._head_timed_out
        )
        if self._admitted:
            self._inner = HttpToolsProtocol(
                config=self._config, server_state=self._server_state, app_state=self._app_state
            )
            self._inner.connection_made(self.transport)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        upgraded: bool | None = False
        if self._parser is not None:
            upgraded = self._read_heads(data)
            if upgraded is None:  # refused or closed
                return
            if not self._admitted:
                if not self._in_head:  # the first head is in: it may be answered now
                    self._refuse(self.too_many_connections)
                return
        inner = self._inner
        assert inner is not None
        inner.data_received(data)
        if upgraded:
            self._follow_upgrade()

    def eof_received(self) -> bool | None:
        if self._refused or self._inner is None:
            return None  # the transport closes
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        self.limits.connections.release(self._address)
        self._address = None
        if self._inner is not None:
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    # --- httptools callbacks (the edge's own parser) ---------------------------------------

    def on_message_begin(self) -> None:
        self._heads_begun += 1
        self._in_head = True
        self._head_bytes = 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._cancel_head_timer()

    # --- the limits ------------------------------------------------------------------------

    def _read_heads(self, data: bytes) -> bool | None:
        """Mark heads in `data`: True if a request asks to upgrade, False to go on, None if
        the connection was refused."""
        parser = self._parser
        assert parser is not None
        view = memoryview(data)
        limit = self.limits.max_head_bytes
        # Read in pieces no longer than the limit: a head that begins and ends within one
        # piece is then within the limit, and only heads across pieces need counting.
        step = min(_SLICE_BYTES, limit)
        for start in range(0, len(data), step):
            end = min(start + step, len(data))
            under_way = self._head_bytes if self._in_head else None
            begun = self._heads_begun
            upgraded = False
            try:
                parser.feed_data(view[start:end])
            except httptools.HttpParserUpgrade:
                upgraded = True
            except httptools.HttpParserError:
                # uvicorn's parser refuses the same bytes with a 400 and closes; a
                # connection the edge can no longer follow is closed either way.
                self._parser = None
                if self._inner is not None:
                    self._inner.data_received(data)
                self._close()
                return None
            ended = not self._in_head or self._heads_begun != begun
            if under_way is not None and ended:
                under_way += _head_end(data, start, end) - start
                if under_way > limit:
                    self._refuse(self.head_too_large)
                    return None
            if upgraded:
                return True
            if self._in_head:
                if self._heads_begun == begun:
                    self._head_bytes += end - start
                else:
                    self._head_bytes = _unfinished_head_bytes(data, start, end)
                if self._head_bytes > limit:
                    self._refuse(self.head_too_large)
                    return None
                if self._head_timer is None:
                    self._head_timer = self._loop.call_later(
                        self.limits.head_timeout_seconds, self._head_timed_out
                    )
        return False

    def _follow_upgrade(self) -> None:
        """uvicorn handed the connection to the WebSocket protocol: stay in between, passing
        events on, to see the connection close."""
        transport = self.transport
        assert transport is not None
        protocol = transport.get_protocol()
        if protocol is self:
            return  # uvicorn answered the upgrade as a plain request; heads go on
        self._parser = None
        self._inner = cast(asyncio.Protocol, protocol)
        transport.set_protocol(self)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        self._close()

    def _refuse(self, response: bytes) -> None:
        """Answer, and close once the client has read the answer. Closing a socket with the
        client's bytes unread resets the connection, and the reset can overtake the answer:
        so the edge ends its side, drops what still comes until the client closes its own,
        and closes anyway at the head timeout."""
        self._parser = None
        self._refused = True
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(response)
        if not transport.can_write_eof():
            self._close()
            return
        transport.write_eof()
        self._cancel_head_timer()
        self._head_timer = self._loop.call_later(
            self.limits.head_timeout_seconds, self._head_timed_out
        )

    def _close(self) -> None:
        self._cancel_head_timer()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None


def _head_end(data: bytes, start: int, end: int) -> int:
    """Where, in data[start:end], the head under way since before `start` ends: after its
    first blank line."""
    after = start - 2 if start >= 2 else 0  # the blank line may have begun in the piece before
    ends = [
        found + len(blank)
        for blank in (b"\n\r\n", b"\n\n")
        if (found := data.find(blank, after, end)) >= 0
    ]
    return min(ends, default=end)


def _unfinished_head_bytes(data: bytes, start: int, end: int) -> int:
    """How much of data[start:end] the head begun in it may have: what follows the last
    blank line (where a bodiless request before it ended), else all of it."""
    after_crlf = data.rfind(b"\n\r\n", start, end) + 3
    after_lf = data.rfind(b"\n\n", start, end) + 2
    return end - max(after_crlf, after_lf, start)


def http_edge(limits: EdgeLimits) -> type[HttpEdge]:
    """The protocol class for uvicorn's `http=` option, with these limits (one count of
    connections per address for the whole process)."""
    head_limit = limits.max_head_bytes
    connection_cap = limits.connections.cap

    class ConfiguredHttpEdge(HttpEdge):
        __slots__ = ()

    ConfiguredHttpEdge.limits = limits
    ConfiguredHttpEdge.head_too_large = _refusal(
        431,
        "Request Header Fields Too Large",
        "request_head_too_large",
        f"the request line and headers may have at most {head_limit} bytes",
        head_limit,
    )
    ConfiguredHttpEdge.too_many_connections = _refusal(
        429,
        "Too Many Requests",
        "too_many_connections",
        f"this address already has {connection_cap} connections open; close one or retry",
        connection_cap,
    )
    return ConfiguredHttpEdge
