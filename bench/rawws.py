"""A lean WebSocket client protocol for the listeners (RFC 6455, client side).

The `websockets` client spends several times as much CPU per received frame as a server
spends to send one, so thousands of listeners built on it would measure themselves. This
protocol parses frames straight from the socket buffer, reads the send time out of event
frames without decoding them, and supports permessage-deflate so the server's compression
can be measured too. It speaks only to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
import zlib
from collections.abc import Callable
from typing import cast

import orjson

MARK = b'"body":"t='
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA
DEFLATE_TAIL = b"\x00\x00\xff\xff"


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked frame, as every client-to-server frame must be."""
    size = len(payload)
    if size < 126:
        header = bytes([0x80 | opcode, 0x80 | size])
    else:
        header = bytes([0x80 | opcode, 0x80 | 126]) + size.to_bytes(2, "big")
    mask = os.urandom(4)
    key = int.from_bytes((mask * (size // 4 + 1))[:size], "big")
    masked = (int.from_bytes(payload, "big") ^ key).to_bytes(size, "big")
    return header + mask + masked


def text_frame(frame: dict[str, object]) -> bytes:
    return client_frame(TEXT, orjson.dumps(frame))


class Listener(asyncio.Protocol):
    """One connection: upgrade, auth, optional subscribe; then counts bench events.

    `opened` resolves when ready (and subscribed). `on_events(count, latencies_ns)` is
    called once per socket read that brought bench events.
    """

    def __init__(
        self,
        port: int,
        token: str,
        conversation_id: str | None,
        deflate: bool,
        on_events: Callable[[int, list[int]], None],
    ) -> None:
        loop = asyncio.get_running_loop()
        self.port = port
        self.token = token
        self.conversation_id = conversation_id
        self.deflate = deflate
        self.on_events = on_events
        self.opened: asyncio.Future[None] = loop.create_future()
        self.received = 0
        self.lost = False  # closed by the server or the network, not by us
        self.errors: list[dict[str, object]] = []  # `error` frames the server sent
        self.transport: asyncio.Transport | None = None
        self._buffer = b""
        self._upgraded = False
        self._closing = False
        self._inflater: zlib._Decompress | None = None
        self._waiting_for = "ready"

    # --- transport callbacks ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transport is no subclass of asyncio.Transport, but it has its methods.
        self.transport = writer = cast(asyncio.Transport, transport)
        key = base64.b64encode(os.urandom(16)).decode()
        extensions = (
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
            if self.deflate
            else ""
        )
        writer.write(
            (
                "GET /api/v1/realtime HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extensions}\r\n"
            ).encode()
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = self.lost or not self._closing
        self._fail(ConnectionError(f"connection lost: {exc}"))

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        if not self._upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self._buffer = buffer
                return
            self._upgrade(buffer[:end])
            buffer = buffer[end + 4 :]
        self._buffer = self._frames(buffer)

    # --- protocol -----------------------------------------------------------------------

    def send(self, frame: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(frame)

    def close(self) -> None:
        self._closing = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(CLOSE, (1000).to_bytes(2, "big")))
            self.transport.close()

    def _upgrade(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        if b" 101 " not in lines[0]:
            self._fail(ConnectionError(f"upgrade refused: {lines[0]!r}"))
            return
        self._upgraded = True
        if any(line.lower().startswith(b"sec-websocket-extensions:") for line in lines):
            self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        self.send(text_frame({"type": "auth", "token": self.token}))

    def _frames(self, buffer: bytes) -> bytes:
        """Handle every whole frame in buffer; returns the incomplete rest."""
        at, end = 0, len(buffer)
        count, latencies = 0, []
        now = time.monotonic_ns()
        while end - at >= 2:
            first, size = buffer[at], buffer[at + 1] & 0x7F
            start = at + 2
            if size == 126:
                if end - at < 4:
                    break
                size, start = int.from_bytes(buffer[at + 2 : at + 4], "big"), at + 4
            elif size == 127:
                if end - at < 10:
                    break
                size, start = int.from_bytes(buffer[at + 2 : at + 10], "big"), at + 10
            if end - start < size:
                break
            payload = buffer[start : start + size]
            at = start + size
            opcode = first & 0x0F
            if first & 0x40 and self._inflater is not None:
                payload = self._inflater.decompress(payload + DEFLATE_TAIL)
            if opcode == TEXT:
                mark = payload.find(MARK)
                if mark >= 0 and self._waiting_for == "":
                    mark += len(MARK)
                    latencies.append(now - int(payload[mark : payload.index(b" ", mark)]))
                    count += 1
                elif mark < 0:
                    self._control(orjson.loads(payload))
            elif opcode == PING:
                self.send(client_frame(PONG, payload))
            elif opcode == CLOSE:
                self.lost = True
                self.close()
        if count:
            self.received += count
            self.on_events(count, latencies)
        return buffer[at:]

    def _control(self, frame: dict[str, object]) -> None:
        """Frames other than bench events: the answers the handshake waits for."""
        kind = frame.get("type")
        if kind == "error":
            self.errors.append(frame)
            self._fail(RuntimeError(f"server answered {frame}"))
        elif kind == self._waiting_for == "ready" and self.conversation_id is not None:
            self._waiting_for = "subscribed"
            self.send(text_frame({"type": "subscribe", "conversation_id": self.conversation_id}))
        elif kind == self._waiting_for:
            self._waiting_for = ""
            if not self.opened.done():
                self.opened.set_result(None)

    def _fail(self, exc: Exception) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc)
            if self.transport is not None:
                self.transport.close()
