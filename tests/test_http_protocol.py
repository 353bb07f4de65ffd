"""Responses go out as one write of head and body; 100 Continue still goes out alone."""

from __future__ import annotations

import socket

import orjson
import pytest

from hallway.api.http_protocol import HeadWithBodyWriter
from tests.support import Directory, ServerProcess

pytestmark = pytest.mark.anyio


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def test_the_head_waits_for_the_body_and_goes_out_with_it() -> None:
    transport = RecordingTransport()
    writer = HeadWithBodyWriter(transport)  # type: ignore[arg-type]
    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n")
    assert transport.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    writer.write(b"ab")
    writer.write(b"HTTP")  # later body bytes pass straight through, whatever they hold
    assert transport.writes[1:] == [b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nab", b"HTTP"]


def test_closing_sends_a_held_head_first() -> None:
    transport = RecordingTransport()
    writer = HeadWithBodyWriter(transport)  # type: ignore[arg-type]
    writer.write(b"HTTP/1.1 500 Internal Server Error\r\n\r\n")
    writer.close()
    assert transport.writes == [b"HTTP/1.1 500 Internal Server Error\r\n\r\n"]
    assert transport.closed


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.lower().split(b"\r\n")
    length = next(int(line.split(b":")[1]) for line in lines if line.startswith(b"content-length"))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


async def test_a_real_server_answers_expect_continue_and_keeps_alive(
    live: Directory, server: ServerProcess
) -> None:
    admin = await live.company()
    body = orjson.dumps({"kind": "channel", "title": "continue", "member_ids": []})
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/conversations HTTP/1.1\r\nHost: x\r\n"
            + f"Authorization: Bearer {admin.token}\r\n".encode()
            + b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
        )
        assert sock.recv(65536).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(body)
        created = _read_response(sock)
        assert created.startswith(b"HTTP/1.1 201 ")
        assert b'"title":"continue"' in created
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")  # the same connection
        assert _read_response(sock).endswith(b'{"status":"ok"}')
