"""The realtime protocol's frames on the wire (hallway.api.realtime_wire): what
every subscriber's socket is written, checked against the `websockets` library's own
RFC 6455 framing and RFC 7692 compression."""

from __future__ import annotations

import pytest
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from hallway.api.realtime_wire import DEFLATE_WINDOW_BITS, WireFrames


def rfc6455(text: str) -> bytes:
    """An unmasked text frame as `websockets` serialises it (a server's frames are never
    masked)."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


@pytest.mark.parametrize("length", [0, 1, 125, 126, 127, 65_535, 65_536, 70_000])
def test_a_frame_of_any_length_is_an_unmasked_rfc6455_text_frame(length: int) -> None:
    text = "x" * length
    assert WireFrames().of(text) == rfc6455(text)


def test_text_goes_on_the_wire_as_utf8() -> None:
    text = '{"body":"héllo wörld 👋, 你好"}'
    assert WireFrames().of(text) == rfc6455(text)


def test_the_last_four_frames_are_written_from_memory_and_the_fifth_replaces_the_oldest() -> None:
    frames = WireFrames()
    event, inbox, other = '{"type":"event"}', '{"type":"inbox"}', '{"type":"typing"}'
    bits = DEFLATE_WINDOW_BITS
    first = {
        (event, 0): frames.of(event),
        (inbox, 0): frames.of(inbox),
        (event, bits): frames.of(event, bits),
        (inbox, bits): frames.of(inbox, bits),
    }
    # Plain and deflating subscribers, and members with the conversation closed, in any
    # order: no new bytes.
    for (text, window), wire in [*first.items(), *reversed(first.items())]:
        assert frames.of(text, window) is wire
    assert frames.of(other) == rfc6455(other)
    assert frames.of(inbox, bits) is first[(inbox, bits)]  # still one of the last four
    again = frames.of(event)  # pushed out by `other`: framed anew, the same bytes
    assert again == first[(event, 0)] and again is not first[(event, 0)]


def test_an_equal_text_of_another_object_gets_the_same_bytes() -> None:
    frames = WireFrames()
    text = '{"type":"event","seq":1}'
    frames.of(text)
    twin = "".join(['{"type":"event",', '"seq":1}'])
    assert twin == text and twin is not text
    assert frames.of(twin) == rfc6455(text)


def _deflate(*, is_client: bool) -> PerMessageDeflate:
    """Either end of permessage-deflate as Hallway negotiates it: no context on either side,
    a 4 KiB window, websockets' own compressor settings."""
    return PerMessageDeflate(
        remote_no_context_takeover=True,
        local_no_context_takeover=True,
        remote_max_window_bits=DEFLATE_WINDOW_BITS,
        local_max_window_bits=DEFLATE_WINDOW_BITS,
        compress_settings=None if is_client else {"memLevel": 5},
    )


def _received(wire: bytes, client: PerMessageDeflate) -> Frame:
    """`wire` parsed and decompressed as a `websockets` client does."""
    reader = StreamReader()
    reader.feed_data(wire)
    parser = Frame.parse(reader.read_exact, mask=False, max_size=None, extensions=[client])
    try:
        next(parser)
    except StopIteration as done:
        frame: Frame = done.value
        return frame
    raise AssertionError("the frame was not complete")


@pytest.mark.parametrize("text", ["", "x", '{"body":"héllo 👋"}', "chat " * 2000])
def test_a_deflated_frame_is_what_websockets_sends_without_context_takeover(text: str) -> None:
    server = _deflate(is_client=False)
    expected = Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[server])
    assert WireFrames().of(text, DEFLATE_WINDOW_BITS) == expected


def test_deflated_frames_decode_one_after_another_on_one_client() -> None:
    frames, client = WireFrames(), _deflate(is_client=True)
    texts = ['{"type":"event","seq":1,"body":"' + "ab" * 300 + '"}', '{"type":"typing"}'] * 3
    for text in texts:
        wire = frames.of(text, DEFLATE_WINDOW_BITS)
        assert wire[0] == 0xC1  # FIN, RSV1 (compressed), text
        frame = _received(wire, client)
        assert frame.opcode is Opcode.TEXT and bytes(frame.data).decode() == text
    assert len(frames.of(texts[0], DEFLATE_WINDOW_BITS)) < len(texts[0]) // 4
