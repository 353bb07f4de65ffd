"""The broker's two busy Redis connections, spoken in RESP directly over an asyncio transport.

Every frame a process publishes, and every frame another process published, crosses one of
these, so what they spend per frame is spent on every event. Through redis-py a frame cost
several times the CPU, above all to receive: its pub/sub reader is a coroutine chain per
message, with a timeout around each read. Here a publish is one write of pre-packed bytes,
and hiredis, the parser redis-py itself uses, hands every reply in one read to a plain
callback. Everything else (PING, presence) stays on redis-py.

Only what the broker needs is here: connecting as the URL says (TCP or a Unix socket, TLS
for rediss://, AUTH, a client name), commands written without waiting, and replies handed
to the owner in order.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

import hiredis

Reply = Any  # bytes, int, a list of replies, or a hiredis.ReplyError
OnReply = Callable[[Reply], None]

# How much a connection may hold unsent before it is given up as stuck: a Redis that stops
# reading must not make this process buffer without end. What was unsent is lost, as with
# any lost connection, and clients recover it by seq.
MAX_UNSENT_BYTES = 16 * 2**20
CONNECT_SECONDS = 5.0


def pack_command(*parts: bytes) -> bytes:
    """A command in RESP: an array of bulk strings."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(out)


class RedisEndpoint:
    """Where and how to connect, read from a redis:// rediss:// or unix:// URL as redis-py
    reads it, so that one URL serves both. The database number is left out: pub/sub
    channels are the same in every database."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        # The "://" is required: urlsplit reads "redis:host" as the redis scheme too.
        if parts.scheme not in ("redis", "rediss", "unix") or url[len(parts.scheme) :][:3] != "://":
            raise ValueError(f"not a redis://, rediss:// or unix:// URL: {url!r}")
        query = {name: values[0] for name, values in parse_qs(parts.query).items()}
        self.username = unquote(parts.username) if parts.username else query.get("username")
        self.password = unquote(parts.password) if parts.password else query.get("password")
        self.path = (unquote(parts.path) or None) if parts.scheme == "unix" else None
        self.host = unquote(parts.hostname) if parts.hostname else "localhost"
        self.port = parts.port or 6379  # a port that is not a number raises ValueError
        self.ssl = _ssl_context(query) if parts.scheme == "rediss" else None
        if parts.scheme == "unix" and self.path is None:
            raise ValueError(f"no socket path in {url!r}")


def _ssl_context(query: dict[str, str]) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=query.get("ssl_ca_certs"))
    if query.get("ssl_cert_reqs") == "none":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class RespConnection(asyncio.Protocol):
    """One Redis connection. Replies go to `on_reply` as they are parsed; `lost` is done
    (with the error, if any) once the connection has ended."""

    def __init__(self, on_reply: OnReply) -> None:
        self.on_reply = on_reply
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._reader = hiredis.Reader()
        self._transport: asyncio.Transport | None = None

    @classmethod
    async def open(cls, endpoint: RedisEndpoint, name: str, on_reply: OnReply) -> RespConnection:
        """Connected, authenticated and named. Raises OSError if Redis can't be reached
        or does not answer (TimeoutError after CONNECT_SECONDS), ConnectionError if it
        refuses."""
        handshake: asyncio.Queue[Reply] = asyncio.Queue()
        connection = cls(handshake.put_nowait)
        try:
            # A Redis that takes the connection and never answers must not hold up the
            # caller (a process starting) any longer than one that can't be reached.
            async with asyncio.timeout(CONNECT_SECONDS):
                await connection._connect(endpoint)
                await connection._handshake(endpoint, name, handshake)
        except BaseException:
            connection.close()
            raise
        connection.on_reply = on_reply
        return connection

    async def _connect(self, endpoint: RedisEndpoint) -> None:
        loop = asyncio.get_running_loop()
        if endpoint.path is not None:
            await loop.create_unix_connection(lambda: self, endpoint.path, ssl=endpoint.ssl)
        else:
            await loop.create_connection(
                lambda: self, endpoint.host, endpoint.port, ssl=endpoint.ssl
            )

    async def _handshake(
        self, endpoint: RedisEndpoint, name: str, replies: asyncio.Queue[Reply]
    ) -> None:
        commands = []
        if endpoint.password is not None:
            credentials = [endpoint.username or "default", endpoint.password]
            commands.append(pack_command(b"AUTH", *(c.encode() for c in credentials)))
        commands.append(pack_command(b"CLIENT", b"SETNAME", name.encode()))
        self.write(b"".join(commands))
        for _ in commands:
            reply = await _next_reply(replies, self)
            if isinstance(reply, hiredis.ReplyError):
                raise ConnectionError(f"redis refused the connection: {reply}")

    @property
    def open_now(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    def write(self, data: bytes) -> None:
        """Send without waiting; a connection that can't keep up is given up."""
        transport = self._transport
        if transport is None or transport.is_closing():
            raise ConnectionError("the redis connection is closed")
        transport.write(data)
        if transport.get_write_buffer_size() > MAX_UNSENT_BYTES:
            transport.abort()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while (reply := self._reader.gets()) is not False:
            self.on_reply(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if not self.lost.done():
            if exc is None:
                self.lost.set_result(None)
            else:
                self.lost.set_exception(exc)
                self.lost.exception()  # retrieved: an owner may never await it


async def _next_reply(replies: asyncio.Queue[Reply], connection: RespConnection) -> Reply:
    """The next handshake reply, or ConnectionError if the connection ends first."""
    reply = asyncio.ensure_future(replies.get())
    try:
        await asyncio.wait([reply, connection.lost], return_when=asyncio.FIRST_COMPLETED)
        if not reply.done():
            raise ConnectionError("redis closed the connection during the handshake")
        return reply.result()
    finally:
        reply.cancel()  # still waiting if the connection ended, or the caller's timeout did
