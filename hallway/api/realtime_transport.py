"""The realtime socket's transport: uvicorn's sans-I/O WebSocket protocol, serving
/api/v1/realtime itself instead of through an ASGI app.

Why: through ASGI every frame to every subscriber is a message dict and a chain of awaited
wrappers, and every idle socket keeps a task, a receive queue and the suspended frames of the
middleware chain. Here the hub writes a frame straight to the socket (a header and the
payload, as `websockets`' own broadcast does) and an idle socket is a protocol object and a
session; docs/benchmarks.md has the figures. Every other WebSocket path still goes to the
ASGI app unchanged. `hallway serve` installs it (uvicorn's `ws=` option); the hub arrives
through the app's lifespan state.
"""

from __future__ import annotations

import struct

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request
from websockets.protocol import State

from hallway.api.realtime import RealtimeSession
from hallway.realtime.frames import CLOSE_PROTOCOL_ERROR
from hallway.realtime.hub import Hub

REALTIME_PATH = "/api/v1/realtime"
# The lifespan state key under which the app hands its hub to the transport.
HUB_STATE_KEY = "hub"

_TEXT_FIN = 0x81  # FIN bit + opcode 1 (text); server frames are never masked


def text_frame_header(length: int) -> bytes:
    """RFC 6455 header of an unfragmented, unmasked text frame of `length` bytes."""
    if length < 126:
        return bytes((_TEXT_FIN, length))
    if length < 65536:
        return struct.pack("!BBH", _TEXT_FIN, 126, length)
    return struct.pack("!BBQ", _TEXT_FIN, 127, length)


class WireFrames:
    """The last two text frames in their wire form. The hub hands the same str to every
    subscriber of a conversation in turn (the event itself, or the inbox notice for members
    who have it closed), so all but the first of each find theirs here: 65 ns a delivery
    instead of 485 to encode, frame and join it again (docs/benchmarks.md)."""

    __slots__ = ("_recent",)

    def __init__(self) -> None:
        # One tuple, stored and read in one step: safe should two threads' loops share it.
        # It starts as the empty frame's, which is true of the empty text.
        empty = ("", text_frame_header(0))
        self._recent: tuple[tuple[str, bytes], tuple[str, bytes]] = (empty, empty)

    def of(self, frame: str) -> bytes:
        recent = self._recent
        if recent[0][0] is frame:
            return recent[0][1]
        if recent[1][0] is frame:
            return recent[1][1]
        payload = frame.encode()
        wire = text_frame_header(len(payload)) + payload
        self._recent = ((frame, wire), recent[0])
        return wire


_WIRE_FRAMES = WireFrames()


class RealtimeWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's protocol, plus a session mode for the realtime path: client frames go to a
    RealtimeSession, and the session's Connection writes through this object (a FrameSink)."""

    session: RealtimeSession | None = None

    # --- handshake ---------------------------------------------------------------------

    def handle_connect(self, event: Request) -> None:
        hub: Hub | None = self.app_state.get(HUB_STATE_KEY)
        if hub is None or event.path.partition("?")[0] != REALTIME_PATH:
            super().handle_connect(event)
            return
        self.handshake_initiated = True
        self.handshake_complete = True
        response = self.conn.accept(event)
        self.conn.send_response(response)
        self.transport.write(b"".join(self.conn.data_to_send()))
        if response.status_code != 101:  # not a valid upgrade: answered and done
            self.close_sent = True
            self.transport.close()
            return
        self.start_keepalive()
        self.session = RealtimeSession(hub, self)

    # --- frames from the client ----------------------------------------------------------

    def send_receive_event_to_app(self) -> None:
        if self.session is None:
            super().send_receive_event_to_app()
            return
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        if self.close_sent:
            return
        if self.curr_msg_data_type != "text":
            self.send_close(CLOSE_PROTOCOL_ERROR, "frames are JSON text")
            return
        try:
            text = data.decode()
        except UnicodeDecodeError:
            self.send_close(1007, "frames are UTF-8")
            return
        self.session.received(text)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.session is not None:
            self.session.ended()

    # --- FrameSink: what the hub's Connection writes through ---------------------------

    def write_text(self, frame: str) -> None:
        if self.close_sent or self.conn.state is not State.OPEN:
            return
        if self.conn.extensions:  # permessage-deflate keeps a context per socket
            self.conn.send_text(frame.encode())
            self.transport.write(b"".join(self.conn.data_to_send()))
        else:
            self.transport.write(_WIRE_FRAMES.of(frame))

    def buffered_bytes(self) -> int:
        return self.transport.get_write_buffer_size()

    async def drained(self) -> None:
        if not self.close_sent:
            await self.writable.wait()

    def send_close(self, code: int, reason: str) -> None:
        if self.close_sent or self.transport.is_closing():
            return
        self.conn.send_close(code, reason)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        # The peer answers with its own close frame; a peer that doesn't is cut off.
        self.close_timer = self.loop.call_later(self.close_timeout, self.transport.close)

    def pause_reading(self) -> None:
        if not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
