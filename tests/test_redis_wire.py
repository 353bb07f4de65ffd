"""The broker's own Redis connections: URLs, the handshake, and replies handed on in order."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis

from hallway.realtime.redis_wire import RedisEndpoint, RespConnection, pack_command
from tests.support import TEST_REDIS_URL, eventually

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
