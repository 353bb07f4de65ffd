"""Server frames in their wire form, for hallway.api.realtime_protocol: RFC 6455 text frames,
plain or permessage-deflated (RFC 7692) without context, so one frame's bytes serve every
subscriber that negotiated the same thing."""

from __future__ import annotations

import struct
import zlib

from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

_TEXT_FIN = 0x81  # FIN bit + opcode 1 (text); server frames are never masked
_RSV1 = 0x40  # set on the first frame of a compressed message (RFC 7692)
# A 4 KiB window each way and a small compressor state (uvicorn's own choice).
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
    find theirs here instead of encoding, framing and perhaps compressing it again."""

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
