"""`hallway serve`'s HTTP edge over real sockets: oversized heads, clients that trickle or
idle, too many connections from one address (hallway/api/http_edge.py), and clients that
go away in the middle of a body.

The edge is the same whatever the database, so these run on SQLite only."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.support import Directory, ServerProcess, eventually, response_head

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("stack", ["sqlite"], indirect=True)]

HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


def _connect(server: ServerProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def _response(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass  # it closed with our unread bytes still arriving: what it sent is kept
    return data


def _send_all_it_takes(sock: socket.socket, data: bytes) -> None:
    """Send `data`, unless the server closes the connection first."""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(data)


def _answers_healthz(sock: socket.socket) -> bytes:
    sock.sendall(HEALTHZ)
    head = b""
    while not head.endswith(b'{"status":"ok"}'):
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        head += chunk
    return head


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_an_oversized_head_is_answered_431_before_it_ends(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server(max_request_head_bytes="16384")
    with _connect(server) as sock:
        # A 1 MiB header whose head never ends: the answer cannot wait for its end.
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        _send_all_it_takes(sock, b"a" * 1024 * 1024)
        answer = _response(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), answer[:200]
    assert b"connection: close" in head
    error = orjson.loads(body)["error"]
    assert error["code"] == "request_head_too_large"
    assert error["details"] == {"limit": 16384}
    # Many headers adding up count the same as one long one, and a head under the limit
    # is served as ever.
    with _connect(server) as sock:
        lines = b"".join(b"X-Header-%d: %s\r\n" % (n, b"v" * 100) for n in range(200))
        _send_all_it_takes(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + lines + b"\r\n")
        assert _response(sock).startswith(b"HTTP/1.1 431 ")
    with _connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Fine: " + b"v" * 8000 + b"\r\n\r\n")
        assert response_head(sock).startswith(b"HTTP/1.1 200 ")


def test_unfinished_heads_do_not_grow_the_server(
    start_server: Callable[..., ServerProcess],
) -> None:
    """Ten clients each sending a 16 MiB header that never ends: the server keeps at most
    the limit of each, so its memory does not grow by anything like what was sent."""
    server = start_server()
    assert server.process is not None
    before = _rss_kib(server.process.pid)
    answers: list[bytes] = []

    def attack() -> None:
        with _connect(server) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
            for _ in range(256):
                try:
                    sock.sendall(b"a" * 65536)
                except (BrokenPipeError, ConnectionResetError):
                    break
            answers.append(_response(sock))

    attackers = [threading.Thread(target=attack) for _ in range(10)]
    for attacker in attackers:
        attacker.start()
    for attacker in attackers:
        attacker.join()
    assert [answer[:13] for answer in answers] == [b"HTTP/1.1 431 "] * 10
    grown_mib = (_rss_kib(server.process.pid) - before) / 1024
    assert grown_mib < 32, f"the server grew by {grown_mib:.0f} MiB for 160 MiB of headers"
    with _connect(server) as sock:
        _answers_healthz(sock)


def test_a_trickling_client_is_closed_after_the_head_timeout(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server(request_head_timeout_seconds="1")
    with _connect(server) as sock:
        sock.settimeout(0.25)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        closed = False
        for n in range(400):  # a header line every quarter second, for up to 100 s
            try:
                if sock.recv(65536) == b"":
                    closed = True
                    break
            except TimeoutError:
                pass
            except ConnectionResetError:
                closed = True
                break
            _send_all_it_takes(sock, b"X-Line-%d: still coming\r\n" % n)
        assert closed, "the server kept a head open that never ended"
    # A connection that never sends a byte is closed the same way.
    with _connect(server) as sock:
        assert _response(sock) == b""
    # The timeout runs again for each request on a keep-alive connection.
    with _connect(server) as sock:
        _answers_healthz(sock)
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        assert _response(sock) == b""


def test_an_idle_keep_alive_connection_is_closed(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server(keep_alive_timeout_seconds="1", request_head_timeout_seconds="60")
    with _connect(server) as sock:
        _answers_healthz(sock)
        _answers_healthz(sock)  # kept alive between requests
        assert _response(sock) == b""  # then closed once idle


async def test_connections_past_the_cap_of_an_address_are_refused(
    start_server: Callable[..., ServerProcess],
) -> None:
    # The loopback address the test connects from is exempt by default (a proxy on the
    # same machine): here it is not.
    server = start_server(
        max_connections_per_address="3",
        connection_cap_exempt="[]",
        keep_alive_timeout_seconds="60",
    )
    kept = [_connect(server), _connect(server)]
    for sock in kept:
        _answers_healthz(sock)
    # A WebSocket holds its place for as long as it is open, as an HTTP connection does.
    async with connect(server.ws_url):
        with _connect(server) as sock:
            sock.sendall(HEALTHZ)
            answer = _response(sock)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 429 Too Many Requests\r\n"), answer[:200]
        error = orjson.loads(body)["error"]
        assert (error["code"], error["details"]) == ("too_many_connections", {"limit": 3})
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            assert (await http.get("/healthz")).status_code == 429
        with pytest.raises(InvalidStatus) as refused:  # a WebSocket handshake alike
            await connect(server.ws_url)
        assert refused.value.response.status_code == 429
        # Those already open are served as before.
        for sock in kept:
            _answers_healthz(sock)
    # The socket's place is free again once it closed.

    def served() -> bool:
        with _connect(server) as sock:
            sock.sendall(HEALTHZ)
            return response_head(sock).startswith(b"HTTP/1.1 200 ")

    await eventually(served)
    for sock in kept:
        sock.close()


async def test_a_client_gone_mid_body_is_one_line_not_a_traceback(
    env: dict[str, str], tmp_path: Path
) -> None:
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log_file:
        server = ServerProcess(env, args=("--log-level", "info"), stderr=log_file).start()
        try:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
                directory = Directory(http)
                admin = await directory.company()
                conversation = await directory.conversation(admin, "channel", [], title="gone")
            auth = f"Authorization: Bearer {admin.token}\r\n".encode()
            path = f"/api/v1/conversations/{conversation['id']}".encode()
            unfinished = [
                # An upload cut off in its file.
                b"POST " + path + b"/attachments HTTP/1.1\r\nHost: x\r\n" + auth
                + b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000"
                + b'\r\n\r\n--b\r\nContent-Disposition: form-data; name="file"; '
                + b'filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nthe start',
                # A message whose chunked body never ends.
                b"POST " + path + b"/messages HTTP/1.1\r\nHost: x\r\n" + auth
                + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                + b'5\r\n{"bod\r\n',
            ]  # fmt: skip
            for request in unfinished:
                with _connect(server) as sock:
                    sock.sendall(request)

            def disconnects_logged() -> bool:
                return log_path.read_text().count("the client disconnected before") == 2

            await eventually(disconnects_logged, timeout=10)
            with _connect(server) as sock:
                _answers_healthz(sock)
        finally:
            server.stop()
    log = log_path.read_text()
    assert "Exception in ASGI application" not in log
    assert "Traceback" not in log
    # The cut-off upload's staging file went with it.
    assert list((tmp_path / "files" / ".staging").iterdir()) == []
