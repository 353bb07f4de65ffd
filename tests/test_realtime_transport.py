"""The realtime transport's frames on the wire (hallway.api.realtime_transport): what
every subscriber's socket is written, checked against the `websockets` library's own
RFC 6455 framing."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode

from hallway.api.realtime_transport import WireFrames


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


def test_the_last_two_frames_are_written_from_memory_and_the_third_replaces_the_oldest() -> None:
    frames = WireFrames()
    event, inbox, other = '{"type":"event"}', '{"type":"inbox"}', '{"type":"typing"}'
    first_event, first_inbox = frames.of(event), frames.of(inbox)
    # Subscribers and members with the conversation closed, in any order: no new bytes.
    for text, wire in [(event, first_event), (inbox, first_inbox), (inbox, first_inbox)]:
        assert frames.of(text) is wire
    assert frames.of(other) == rfc6455(other)
    assert frames.of(inbox) is first_inbox  # still one of the last two
    again = frames.of(event)  # pushed out by `other`: framed anew, the same bytes
    assert again == first_event and again is not first_event


def test_an_equal_text_of_another_object_gets_the_same_bytes() -> None:
    frames = WireFrames()
    text = '{"type":"event","seq":1}'
    frames.of(text)
    twin = "".join(['{"type":"event",', '"seq":1}'])
    assert twin == text and twin is not text
    assert frames.of(twin) == rfc6455(text)
