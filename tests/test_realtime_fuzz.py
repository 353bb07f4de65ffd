"""Properties of the realtime endpoint's reading of client frames, on a real server:
whatever an authenticated client sends, as a frame's text or as bytes on the socket, the
server handles it as a frame or refuses it with a clear protocol error. It never answers
with an internal error (1011), never stops answering, and never logs an exception."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.client import ClientProtocol
from websockets.frames import Close, Frame, Opcode
from websockets.uri import parse_uri

from hallway.api.realtime import parse_client_frame
from hallway.realtime.frames import CLOSE_PROTOCOL_ERROR
from tests.fuzz_support import json_values, texts
from tests.support import Directory, ServerProcess

# The one stack: reading frames is the same whatever stores the messages.
ON_SQLITE = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)

CLOSE_INTERNAL_ERROR = 1011
# The connection was cut without a close frame reaching us: a server that refuses broken
# framing closes its side at once, and the kernel resets a connection closed with our
# later bytes unread.
CUT_OFF = 1006
# How a server refuses what it cannot read: not RFC 6455 framing (1002), text that is not
# UTF-8 (1007), a frame over the size limit (1009), text that is not a frame (Hallway's).
PROTOCOL_ERRORS = {1002, 1007, 1009, CLOSE_PROTOCOL_ERROR, CUT_OFF}
FRAME_TYPES = ["auth", "subscribe", "unsubscribe", "typing", "send", "ping", "pong", "other"]
PING = orjson.dumps({"type": "ping"})
# Each example is a new connection: a few hundred take a few seconds. The same examples on
# every run.
FUZZ = settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Objects shaped like client frames (so that the input reaches each frame's handling), and
# any JSON or text at all.
frames = st.fixed_dictionaries(
    {"type": st.sampled_from(FRAME_TYPES) | texts},
    optional={
        name: json_values
        for name in ["conversation_id", "after_seq", "token", "ref", "body", "client_msg_id"]
    },
)
# json, not orjson: it writes integers of any size. Frame-shaped objects most often.
frame_texts = st.one_of(
    *[frames.map(lambda f: json.dumps(f).encode())] * 3,
    json_values.map(lambda v: json.dumps(v).encode()),
    texts.map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.binary(max_size=64),
)


class RawSocket:
    """A WebSocket client over a blocking socket, with `websockets`' sans-I/O protocol for
    the handshake and for reading the server's frames, and room to write anything at all."""

    def __init__(self, server: ServerProcess) -> None:
        self.protocol = ClientProtocol(parse_uri(server.ws_url))
        self.reset = False
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        self.protocol.send_request(self.protocol.connect())
        self._flush()
        while self.protocol.handshake_exc is None and not self.protocol.events_received():
            self._read()
        assert self.protocol.handshake_exc is None, self.protocol.handshake_exc

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            self.sock.sendall(data)

    def _read(self) -> bool:
        """Feed what the server sent next to the protocol; False at the end of the stream."""
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            self.reset = True
            data = b""
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
        return bool(data)

    def send_text(self, payload: bytes) -> None:
        """A text frame of these bytes, UTF-8 or not."""
        self.send(Frame(Opcode.TEXT, payload).serialize(mask=True))

    def send(self, data: bytes) -> None:
        """Write, unless the server has closed the connection already (it reads nothing
        more then: what it answered is read by `frames`)."""
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            self.reset = True

    def end_writing(self) -> None:
        """The end of the stream, which ends any frame the bytes sent began."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:  # the server has closed the connection already
            self.reset = True

    def frames(self) -> Iterator[Frame]:
        """The server's frames, until it closes."""
        while True:
            for event in self.protocol.events_received():
                assert isinstance(event, Frame)
                yield event
            if not self._read():
                for event in self.protocol.events_received():
                    assert isinstance(event, Frame)
                    yield event
                return

    def close(self) -> None:
        self.sock.close()


def _answers_until_pong(ws: RawSocket) -> tuple[list[dict[str, Any]], int | None]:
    """The text frames the server sent before its pong, and its close code if it closed
    instead (None: it answered the ping)."""
    answers: list[dict[str, Any]] = []
    for frame in ws.frames():
        if frame.opcode is Opcode.CLOSE:
            return answers, Close.parse(frame.data).code
        if frame.opcode is Opcode.TEXT:
            answer = orjson.loads(frame.data)
            if answer["type"] == "pong":
                return answers, None
            answers.append(answer)
    assert ws.reset, "the server closed the connection without a close frame"
    return answers, CUT_OFF


def _authenticated(server: ServerProcess, token: str) -> RawSocket:
    ws = RawSocket(server)
    ws.send_text(orjson.dumps({"type": "auth", "token": token}))
    first = next(ws.frames())
    assert orjson.loads(first.data)["type"] == "ready"
    return ws


@dataclass
class Logged:
    """A server whose output goes to a file, and a person's token for it."""

    server: ServerProcess
    token: str
    log: Path

    def assert_no_exception_logged(self) -> None:
        text = self.log.read_text(errors="replace")
        assert "Traceback" not in text and "Exception" not in text, text


@pytest.fixture
def logged(env: dict[str, str], tmp_path: Path) -> Iterator[Logged]:
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = ServerProcess(env, stdout=out, stderr=out).start()
        try:
            yield Logged(server, _token(server), log)
        finally:
            server.stop()


def _token(server: ServerProcess) -> str:
    async def sign_up() -> str:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
            return (await Directory(client).company()).token

    return asyncio.run(sign_up())


@ON_SQLITE
def test_any_frame_text_is_handled_or_refused_as_a_protocol_error(logged: Logged) -> None:
    @FUZZ
    @given(payload=frame_texts)
    def exchange(payload: bytes) -> None:
        ws = _authenticated(logged.server, logged.token)
        try:
            ws.send_text(payload)
            ws.send_text(PING)
            answers, closed = _answers_until_pong(ws)
        finally:
            ws.close()
        assert closed is None or closed in PROTOCOL_ERRORS, (payload, closed)
        if closed is None:
            # Read as a frame: whatever it answered is a frame of the protocol's.
            assert parse_client_frame(payload.decode()) is not None
        for answer in answers:
            if answer["type"] == "error":
                assert {"code", "message"} <= set(answer), answer

    exchange()
    logged.assert_no_exception_logged()


@ON_SQLITE
def test_any_bytes_on_the_socket_are_read_or_refused_and_the_server_goes_on(
    logged: Logged,
) -> None:
    @FUZZ
    @given(data=st.binary(max_size=200), then_ping=st.booleans())
    def exchange(data: bytes, then_ping: bool) -> None:
        ws = _authenticated(logged.server, logged.token)
        try:
            ws.send(data)
            if then_ping:
                ws.send_text(PING)
            ws.end_writing()
            codes = [Close.parse(f.data).code for f in ws.frames() if f.opcode is Opcode.CLOSE]
        finally:
            ws.close()
        assert CLOSE_INTERNAL_ERROR not in codes, (data, codes)

    exchange()
    logged.assert_no_exception_logged()
    # And it still serves.
    ws = _authenticated(logged.server, logged.token)
    try:
        ws.send_text(PING)
        assert _answers_until_pong(ws) == ([], None)
    finally:
        ws.close()


@FUZZ
@given(text=st.text() | frame_texts.map(lambda b: b.decode(errors="replace")))
def test_parsing_a_client_frame_gives_a_frame_or_none(text: str) -> None:
    frame = parse_client_frame(text)
    assert frame is None or (isinstance(frame, dict) and isinstance(frame["type"], str))
