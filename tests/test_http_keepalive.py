"""Requests one after another on one keep-alive connection to a real server: each is
answered in full, whatever it was (HEAD, Expect: 100-continue), and the next one still is."""

from __future__ import annotations

import socket

import orjson
import pytest

from tests.files_support import send_files, uploaded
from tests.support import Directory, ServerProcess, response_head

pytestmark = pytest.mark.anyio


def _content_length(head: bytes) -> int:
    lines = head.lower().split(b"\r\n")
    return next(int(line.split(b":")[1]) for line in lines if line.startswith(b"content-length"))


def _read_response(sock: socket.socket) -> bytes:
    data = response_head(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    length = _content_length(head)
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


async def test_head_is_answered_with_no_body_and_the_connection_goes_on(
    live: Directory, server: ServerProcess
) -> None:
    admin = await live.company()
    conversation = await live.conversation(admin, "channel", [], title="files")
    attachment = await uploaded(admin, conversation["id"], b"f" * 1024)
    sent = await send_files(admin, conversation["id"], [attachment["id"]])
    assert sent.status_code == 201, sent.text
    link = sent.json()["attachments"][0]["url"]
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for path, length in ((link, 1024), ("/healthz", 15), ("/readyz", 18)):
            sock.sendall(f"HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            head = response_head(sock)
            assert head.startswith(b"HTTP/1.1 200 "), head
            assert head.endswith(b"\r\n\r\n") and _content_length(head) == length
        # Had a HEAD's answer been held back or left unfinished, this would not be answered.
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _read_response(sock).endswith(b'{"status":"ok"}')
