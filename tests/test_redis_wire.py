"""The broker's own Redis connections: URLs, the handshake, and replies handed on in order."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as redis

from hallway.realtime.redis_broker import RedisBroker
from hallway.realtime.redis_wire import (
    MAX_UNSENT_BYTES,
    RedisEndpoint,
    RespConnection,
    pack_command,
)
from tests.support import TEST_REDIS_URL, eventually, free_port

needs_redis = pytest.mark.skipif(
    not TEST_REDIS_URL, reason="needs HALLWAY_TEST_REDIS_URL (CI sets it)"
)


@pytest.fixture(params=["asyncio", ("asyncio", {"use_uvloop": True})], ids=["asyncio", "uvloop"])
def anyio_backend(request: pytest.FixtureRequest) -> object:
    """The servers run on uvloop, whose transports differ from asyncio's own."""
    return request.param


def test_a_command_is_an_array_of_bulk_strings() -> None:
    assert pack_command(b"PUBLISH", b"ch", b"") == b"*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$0\r\n\r\n"


def test_the_endpoint_is_read_from_the_url() -> None:
    tcp = RedisEndpoint("redis://someone:s%40cret@redis.internal:6380/3")
    assert (tcp.host, tcp.port, tcp.path, tcp.ssl) == ("redis.internal", 6380, None, None)
    assert (tcp.username, tcp.password) == ("someone", "s@cret")
    assert RedisEndpoint("unix:///run/redis.sock").path == "/run/redis.sock"
    tls = RedisEndpoint("rediss://redis.internal")
    assert tls.ssl is not None and tls.ssl.check_hostname
    unchecked = RedisEndpoint("rediss://redis.internal?ssl_cert_reqs=none")
    assert unchecked.ssl is not None and not unchecked.ssl.check_hostname
    default = RedisEndpoint("REDIS://:only%20password@")
    assert (default.host, default.port, default.username, default.password) == (
        "localhost",
        6379,
        None,
        "only password",
    )
    socket = RedisEndpoint("unix:///run/redis%20one.sock?username=bot&password=p%26q&db=2")
    assert (socket.path, socket.username, socket.password) == ("/run/redis one.sock", "bot", "p&q")


@pytest.mark.parametrize(
    "url",
    [
        "http://redis.internal",
        "redis:redis.internal",
        "redis.internal:6379",
        "unix://",
        "redis://h:port",
    ],
)
def test_a_url_redis_would_not_take_is_refused(url: str) -> None:
    with pytest.raises(ValueError):
        RedisEndpoint(url)


@pytest.fixture
async def admin() -> AsyncIterator[redis.Redis]:
    assert TEST_REDIS_URL
    async with redis.Redis.from_url(TEST_REDIS_URL) as client:
        yield client


@needs_redis
@pytest.mark.anyio
async def test_a_connection_is_named_and_hands_on_every_reply_in_order(
    admin: redis.Redis,
) -> None:
    assert TEST_REDIS_URL
    replies: list[object] = []
    name = f"hallway-test-{uuid.uuid4().hex[:8]}"
    connection = await RespConnection.open(RedisEndpoint(TEST_REDIS_URL), name, replies.append)
    try:
        assert name in [c["name"] for c in await admin.client_list()]
        # Three commands in one write; hiredis may get their replies in one read.
        connection.write(b"".join(pack_command(b"ECHO", str(n).encode()) for n in range(3)))
        await eventually(lambda: len(replies) == 3)
        assert replies == [b"0", b"1", b"2"]
    finally:
        connection.close()
    await asyncio.wait_for(connection.lost, 5)
    assert not connection.open_now
    with pytest.raises(ConnectionError):
        connection.write(pack_command(b"PING"))


@needs_redis
@pytest.mark.anyio
async def test_a_password_in_the_url_authenticates_and_a_wrong_one_is_refused(
    admin: redis.Redis,
) -> None:
    assert TEST_REDIS_URL
    user = f"hallway-test-{uuid.uuid4().hex[:8]}"
    await admin.acl_setuser(user, enabled=True, passwords=["+right"], commands=["+@all"])
    server = RedisEndpoint(TEST_REDIS_URL)
    host, port = server.host, server.port
    try:
        ok = await RespConnection.open(
            RedisEndpoint(f"redis://{user}:right@{host}:{port}"), "hallway-test", print
        )
        ok.close()
        with pytest.raises(ConnectionError, match="refused"):
            await RespConnection.open(
                RedisEndpoint(f"redis://{user}:wrong@{host}:{port}"), "hallway-test", print
            )
    finally:
        await admin.acl_deluser(user)


class OwnRedis:
    """A Redis server of the test's own: a TLS port with a self-signed certificate for
    127.0.0.1, and a Unix socket."""

    def __init__(self, directory: Path) -> None:
        self.cert = directory / "cert.pem"
        self.socket = directory / "redis.sock"
        self.tls_port = free_port()
        key = directory / "key.pem"
        certificate = [
            *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(self.cert)),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
        ]
        subprocess.run([_binary("openssl"), *certificate], check=True, capture_output=True)
        options = [
            *("--port", "0", "--tls-port", str(self.tls_port), "--tls-auth-clients", "no"),
            *("--tls-cert-file", str(self.cert), "--tls-key-file", str(key)),
            *("--unixsocket", str(self.socket), "--dir", str(directory)),
            *("--save", "", "--appendonly", "no"),
        ]
        self.process = subprocess.Popen(
            [_binary("redis-server"), *options], stdout=subprocess.DEVNULL
        )

    def tls_url(self, query: str) -> str:
        return f"rediss://127.0.0.1:{self.tls_port}?{query}"

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + 20
        while not self.socket.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the test's own redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"`{name}` is missing: these tests start a Redis server of their own")
    return found


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path_factory.mktemp("redis"))
    try:
        server.wait_until_ready()
        yield server
    finally:
        server.stop()


@needs_redis
@pytest.mark.anyio
async def test_brokers_share_frames_over_tls_with_the_certificate_checked(
    own_redis: OwnRedis,
) -> None:
    url = own_redis.tls_url(f"ssl_ca_certs={own_redis.cert}")
    here, there = RedisBroker(url), RedisBroker(url)
    for broker in (here, there):
        await broker.start()
    try:
        received: list[tuple[str, str]] = []
        there.handler = lambda topic, frame: received.append((topic, frame))
        here.handler = lambda topic, frame: None
        await there.subscribe(["conv:tls"])

        await here.publish("conv:tls", "{}")

        await eventually(lambda: received == [("conv:tls", "{}")])
    finally:
        for broker in (here, there):
            await broker.close()


@needs_redis
@pytest.mark.anyio
async def test_an_untrusted_certificate_is_refused_unless_checks_are_off(
    own_redis: OwnRedis,
) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        await RespConnection.open(RedisEndpoint(own_redis.tls_url("")), "hallway-test", print)
    unchecked = RedisEndpoint(own_redis.tls_url("ssl_cert_reqs=none"))
    connection = await RespConnection.open(unchecked, "hallway-test", print)
    connection.close()


@needs_redis
@pytest.mark.anyio
async def test_a_unix_socket_url_connects(own_redis: OwnRedis) -> None:
    replies: list[object] = []
    connection = await RespConnection.open(
        RedisEndpoint(f"unix://{own_redis.socket}"), "hallway-test", replies.append
    )
    try:
        connection.write(pack_command(b"ECHO", b"over the socket"))
        await eventually(lambda: replies == [b"over the socket"])
    finally:
        connection.close()


class _StopsReading(asyncio.Protocol):
    """A stand-in for a stuck Redis: it answers the handshake, then reads nothing more."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(b"+OK\r\n")  # type: ignore[attr-defined]
        self.transport.pause_reading()  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_a_connection_redis_stops_reading_is_given_up_not_buffered_without_end() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_StopsReading, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        connection = await RespConnection.open(
            RedisEndpoint(f"redis://127.0.0.1:{port}"), "hallway-test", print
        )
        frame = pack_command(b"PUBLISH", b"ch", b"x" * 65536)
        with pytest.raises(ConnectionError):
            for _ in range(2 * MAX_UNSENT_BYTES // len(frame)):
                connection.write(frame)
                await asyncio.sleep(0)  # let the loop flush what the kernel takes

        await asyncio.wait([connection.lost], timeout=5)
        assert connection.lost.done() and not connection.open_now
    finally:
        server.close()
