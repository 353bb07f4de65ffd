"""The realtime socket's transport: uvicorn's sans-I/O WebSocket protocol, serving
/api/v1/realtime itself instead of through an ASGI app.

Why: through ASGI every frame to every subscriber is a message dict and a chain of awaited
wrappers, and every idle socket keeps a task, a receive queue and the suspended frames of the
middleware chain. Here the hub writes a frame straight to the socket (a header and the
payload, as `websockets`' own broadcast does; deflated once for all the sockets that
negotiated permessage-deflate) and an idle socket is a protocol object and a session;
docs/benchmarks.md has the figures. Every other WebSocket path still goes to the
ASGI app unchanged. `hallway serve` installs it (uvicorn's `ws=` option); the hub arrives
through the app's lifespan state.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.extensions.permessage_deflate import (
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.http11 import Request
from websockets.protocol import State

from hallway.api.realtime import RealtimeSession
from hallway.realtime.frames import CLOSE_PROTOCOL_ERROR
from hallway.realtime.hub import Hub

REALTIME_PATH = "/api/v1/realtime"
# The lifespan state key under which the app hands its hub to the transport.
HUB_STATE_KEY = "hub"

_TEXT_FIN = 0x81  # FIN bit + opcode 1 (text); server frames are never masked
_RSV1 = 0x40  # set on the first frame of a compressed message (RFC 7692)
# uvicorn's own choice: a 4 KiB window each way, and a small compressor state.
DEFLATE_WINDOW_BITS = 12
_DEFLATE_MEM_LEVEL = 5


def text_frame_header(length: int, first_byte: int = _TEXT_FIN) -> bytes:
    """RFC 6455 header of an unfragmented, unmasked text frame of `length` bytes."""
    if length < 126:
        return bytes((first_byte, length))
    if length < 65536:
        return struct.pack("!BBH", first_byte, 126, length)
    return struct.pack("!BBQ", first_byte, 127, length)


def deflate_without_context(payload: bytes, window_bits: int) -> bytes:
    """A message's payload as permessage-deflate sends it when the server keeps no context
    from one message to the next: the same bytes for every socket with this window."""
    encoder = zlib.compressobj(wbits=-window_bits, memLevel=_DEFLATE_MEM_LEVEL)
    # A sync flush ends with an empty stored block, 00 00 ff ff, which the sender strips.
    return (encoder.compress(payload) + encoder.flush(zlib.Z_SYNC_FLUSH))[:-4]


def wire_frame(frame: str, window_bits: int) -> bytes:
    """`frame` as one text frame: plain when `window_bits` is 0, else deflated."""
    payload = frame.encode()
    if not window_bits:
        return text_frame_header(len(payload)) + payload
    payload = deflate_without_context(payload, window_bits)
    return text_frame_header(len(payload), _TEXT_FIN | _RSV1) + payload


def shared_deflate() -> ServerPerMessageDeflateFactory:
    """permessage-deflate with no context kept on either side. The server's side lets one
    compressed frame serve every subscriber (WireFrames), so a delivery costs what it costs
    uncompressed; the client's side means an idle socket holds no zlib state at all. RFC 7692
    lets a server require both whatever the client offered."""
    return ServerPerMessageDeflateFactory(
        server_no_context_takeover=True,
        client_no_context_takeover=True,
        server_max_window_bits=DEFLATE_WINDOW_BITS,
        client_max_window_bits=DEFLATE_WINDOW_BITS,
        compress_settings={"memLevel": _DEFLATE_MEM_LEVEL},
    )


class WireFrames:
    """The last four text frames in their wire form, each keyed by the text and its deflate
    window (0: not compressed). The hub hands the same str to every subscriber of a
    conversation in turn (the event itself, or the inbox notice for members who have it
    closed; plain or deflated by what each socket negotiated), so all but the first of each
    find theirs here: about 80 ns a delivery instead of 485 to encode, frame and join it
    again, or 8 µs to compress it (docs/benchmarks.md)."""

    __slots__ = ("_recent",)

    def __init__(self) -> None:
        # One tuple, stored and read in one step: safe should two threads' loops share it.
        # It starts as the empty frame's, which is true of the empty text.
        empty = ("", 0, wire_frame("", 0))
        self._recent: tuple[tuple[str, int, bytes], ...] = (empty,) * 4

    def of(self, frame: str, window_bits: int = 0) -> bytes:
        recent = self._recent
        for text, bits, wire in recent:
            if text is frame and bits == window_bits:
                return wire
        wire = wire_frame(frame, window_bits)
        self._recent = ((frame, window_bits, wire), *recent[:3])
        return wire


_WIRE_FRAMES = WireFrames()
# Configuration only, read at each handshake: one list serves every socket.
_DEFLATE_OFFERS = [shared_deflate()]


class RealtimeWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's protocol, plus a session mode for the realtime path: client frames go to a
    RealtimeSession, and the session's Connection writes through this object (a FrameSink)."""

    session: RealtimeSession | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.config.ws_per_message_deflate:
            self.conn.available_extensions = _DEFLATE_OFFERS
        # The deflate window this socket's frames are written with; 0 while uncompressed.
        self.deflate_bits = 0

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
        for extension in self.conn.extensions:
            if isinstance(extension, PerMessageDeflate):
                self.deflate_bits = extension.local_max_window_bits
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
        self.transport.write(_WIRE_FRAMES.of(frame, self.deflate_bits))

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
