"""`hallway serve`'s WebSocket protocol: /api/v1/realtime served straight from the socket,
over `websockets`' public sans-I/O ServerProtocol, with no ASGI in between.

Why a protocol of its own: through ASGI every frame to every subscriber is a message dict
and a chain of awaited wrappers, and every idle socket keeps a task, a receive queue and the
suspended frames of the middleware chain. Here the hub writes a frame straight to the
transport (one write of header and payload, deflated once for all the sockets that
negotiated permessage-deflate: hallway.api.realtime_wire), and an idle socket is this object,
its ServerProtocol and a session. uvicorn takes it through its public `ws=` option, which
accepts any asyncio.Protocol class; uvicorn calls it as `cls(config=, server_state=,
app_state=)`, hands it the upgrade request as data, and calls `shutdown()` on every
connection in `server_state.connections` when it stops. The class is Hallway's own: it
subclasses no part of uvicorn. Every other WebSocket path answers 404; the app's ASGI route
(hallway.api.realtime_route) serves the same path under any other server.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any, cast

import uvicorn
from uvicorn.server import ServerState
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

from hallway.api.realtime import HUB_STATE_KEY, REALTIME_PATH, RealtimeSession
from hallway.api.realtime_wire import WireFrames, shared_deflate
from hallway.api.socket_log import LOST, SocketEnd, closed_by_client, closed_by_server
from hallway.realtime.frames import CLOSE_PROTOCOL_ERROR
from hallway.realtime.hub import Hub

# A peer that doesn't answer our close frame within this is cut off.
CLOSE_TIMEOUT_SECONDS = 10.0
CLOSE_SERVICE_RESTART = 1012
CLOSE_INVALID_DATA = 1007
CLOSE_INTERNAL_ERROR = 1011

_WIRE_FRAMES = WireFrames()
# Configuration only, read at each handshake: one list serves every socket.
_DEFLATE_OFFERS = [shared_deflate()]
# What uvicorn's own WebSocket protocols log to.
_LOG = logging.getLogger("uvicorn.error")


class RealtimeProtocol(asyncio.Protocol):
    """One WebSocket connection: the handshake, client frames to a RealtimeSession, and the
    session's Connection writing through it (a FrameSink with read control)."""

    __slots__ = (
        "_close_timer",
        "_config",
        "_connections",
        "_hub",
        "_loop",
        "_message",
        "_message_is_text",
        "_ping_payload",
        "_ping_timer",
        "_reading_paused",
        "_room",
        "deflate_bits",
        "session",
        "transport",
        "ws",
    )

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._config = config
        self._connections = server_state.connections
        self._hub: Hub | None = app_state.get(HUB_STATE_KEY)
        self._loop = _loop or asyncio.get_running_loop()
        self.ws = ServerProtocol(
            extensions=_DEFLATE_OFFERS if config.ws_per_message_deflate else None,
            max_size=config.ws_max_size,
            logger=_LOG,
        )
        self.transport: asyncio.Transport | None = None
        self.session: RealtimeSession | None = None
        # The deflate window this socket's frames are written with; 0 while uncompressed.
        self.deflate_bits = 0
        # A message the client sends in fragments, until its last one (rare: browsers don't).
        self._message: list[bytes] | None = None
        self._message_is_text = False
        self._reading_paused = False
        # Set while someone waits for the transport to take writes again.
        self._room: asyncio.Event | None = None
        self._ping_timer: asyncio.TimerHandle | None = None
        self._ping_payload: bytes | None = None  # the keepalive ping awaiting its pong
        self._close_timer: asyncio.TimerHandle | None = None

    # --- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport, though uvloop's are not asyncio.Transport subclasses.
        self.transport = cast(asyncio.Transport, transport)
        self._connections.add(self)  # type: ignore[arg-type]  # uvicorn: shutdown() on stop

    def data_received(self, data: bytes) -> None:
        ws = self.ws
        ws.receive_data(data)
        for event in ws.events_received():
            if isinstance(event, Frame):
                self._frame_received(event)
            elif isinstance(event, Request):
                self._handshake(event)
        if ws.handshake_exc is not None and ws.state is State.CONNECTING:
            self._refuse_unreadable_handshake()
        self._flush()

    def eof_received(self) -> bool | None:
        self.ws.receive_eof()
        self._flush()
        return None  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)
        for timer in (self._ping_timer, self._close_timer):
            if timer is not None:
                timer.cancel()
        self._ping_timer = self._close_timer = None
        if self._room is not None:  # nothing will drain now; let waiters go
            self._room.set()
        if self.session is not None:
            self.session.ended(self._how_it_ended())

    def _how_it_ended(self) -> SocketEnd:
        """The close that ended the connection: the first one sent, by either side."""
        ws = self.ws
        sent, received = ws.close_sent, ws.close_rcvd
        if sent is not None and not ws.close_rcvd_then_sent:
            return closed_by_server(sent.code, sent.reason)
        if received is not None:
            return closed_by_client(received.code)
        return LOST

    def pause_writing(self) -> None:
        if self._room is None:
            self._room = asyncio.Event()

    def resume_writing(self) -> None:
        room, self._room = self._room, None
        if room is not None:
            room.set()

    # --- uvicorn ---------------------------------------------------------------------------

    def shutdown(self) -> None:
        """The server is stopping: tell the client to reconnect elsewhere, and go."""
        if self.ws.state is State.OPEN:
            self.ws.send_close(CLOSE_SERVICE_RESTART)
            self._flush()
        if self.transport is not None:
            self.transport.close()

    # --- handshake -------------------------------------------------------------------------

    def _handshake(self, request: Request) -> None:
        ws = self.ws
        hub = self._hub
        if request.path.partition("?")[0] != REALTIME_PATH:
            response = ws.reject(404, "no WebSocket here\n")
        elif hub is None:  # the app's lifespan did not run
            response = ws.reject(503, "realtime is not running\n")
        else:
            response = ws.accept(request)
        ws.send_response(response)
        if response.status_code != 101 or hub is None:
            return  # answered; _flush closes the connection
        for extension in ws.extensions:
            if isinstance(extension, PerMessageDeflate):
                self.deflate_bits = extension.local_max_window_bits or 15
        self._schedule_ping()
        self.session = RealtimeSession(hub, self)

    def _refuse_unreadable_handshake(self) -> None:
        """websockets answers an oversized request line or header itself (414, 431), and
        gives up silently on any other unreadable request: that one gets a 400."""
        output = self.ws.data_to_send()
        if not any(output):
            output = [self.ws.reject(400, "not a WebSocket handshake\n").serialize(), b""]
        self._write(output)

    # --- frames from the client ------------------------------------------------------------

    def _frame_received(self, frame: Frame) -> None:
        opcode = frame.opcode
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            if frame.fin:
                self._message_received(opcode is Opcode.TEXT, frame.data)
            else:
                self._message, self._message_is_text = [bytes(frame.data)], opcode is Opcode.TEXT
        elif opcode is Opcode.CONT and self._message is not None:
            self._message.append(bytes(frame.data))
            if frame.fin:
                parts, self._message = self._message, None
                self._message_received(self._message_is_text, b"".join(parts))
        elif opcode is Opcode.PONG and frame.data == self._ping_payload:
            self._ping_payload = None
            if self._ping_timer is not None:
                self._ping_timer.cancel()
            self._schedule_ping()
        # A ping's pong and a close frame's echo are the ServerProtocol's; _flush sends them.

    def _message_received(self, is_text: bool, data: bytes | bytearray | memoryview) -> None:
        if self.session is None or self.ws.state is not State.OPEN:
            return  # closing: the client's frames in flight are dropped
        if not is_text:
            self.send_close(CLOSE_PROTOCOL_ERROR, "frames are JSON text")
            return
        try:
            text = bytes(data).decode()
        except UnicodeDecodeError:
            self.send_close(CLOSE_INVALID_DATA, "frames are UTF-8")
            return
        self.session.received(text)

    # --- keepalive -------------------------------------------------------------------------

    def _schedule_ping(self) -> None:
        interval = self._config.ws_ping_interval
        if interval:
            self._ping_timer = self._loop.call_later(interval, self._ping)

    def _ping(self) -> None:
        self._ping_timer = None
        if self.ws.state is not State.OPEN:
            return
        self._ping_payload = random.randbytes(4)  # tells its pong from any other
        self.ws.send_ping(self._ping_payload)
        self._flush()
        timeout = self._config.ws_ping_timeout
        if timeout:
            self._ping_timer = self._loop.call_later(timeout, self._ping_unanswered)
        else:
            self._schedule_ping()

    def _ping_unanswered(self) -> None:
        self._ping_timer = None
        if self.ws.state is State.OPEN:
            self.ws.fail(CLOSE_INTERNAL_ERROR, "keepalive ping timeout")
            self._flush()

    # --- writing ---------------------------------------------------------------------------

    def _flush(self) -> None:
        """Write what the ServerProtocol has to send; close the connection when it says the
        stream ends, or start the close timer once our close frame is out."""
        self._write(self.ws.data_to_send())
        if (
            self._close_timer is None
            and self.ws.close_expected()
            and self.transport is not None
            and not self.transport.is_closing()
        ):
            self._close_timer = self._loop.call_later(CLOSE_TIMEOUT_SECONDS, self.transport.close)

    def _write(self, output: list[bytes]) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        for data in output:
            if data:
                transport.write(data)
            else:  # the end of the stream: a server closes the TCP connection itself
                transport.close()
                return

    # --- FrameSink and ReadControl: what the session and its Connection use ----------------

    def write_text(self, frame: str) -> None:
        if self.ws.state is State.OPEN and self.transport is not None:
            self.transport.write(_WIRE_FRAMES.of(frame, self.deflate_bits))

    def buffered_bytes(self) -> int:
        return 0 if self.transport is None else self.transport.get_write_buffer_size()

    async def drained(self) -> None:
        if self._room is not None:
            await self._room.wait()

    def send_close(self, code: int, reason: str) -> None:
        if self.ws.state is not State.OPEN:
            return
        self.ws.send_close(code, reason)
        self._flush()
        # The client's close frame must be read even if the session had paused reading.
        self.resume_reading()

    def pause_reading(self) -> None:
        if not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self._reading_paused and self.transport is not None:
            self._reading_paused = False
            self.transport.resume_reading()
