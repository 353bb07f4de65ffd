"""A lean keep-alive HTTP/1.1 client for the load loops.

A general client spends more CPU per request than the server's send path, which would make
the load generator the thing measured. This one writes a request and reads one
Content-Length response; that is all the suite needs from 127.0.0.1.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson


class HttpError(RuntimeError):
    pass


class Http:
    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.head = f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
        return self._reader, self._writer

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        """(status, body). Retried once on a fresh connection if the server closed an idle
        one (the suite's POSTs carry a client_msg_id, so a retry cannot duplicate)."""
        payload = b"" if body is None else orjson.dumps(body)
        request = (
            f"{method} {path} HTTP/1.1\r\n{self.head}"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        ).encode() + payload
        for attempt in (1, 2):
            reader, writer = await self._connect()
            try:
                writer.write(request)
                return await _read_response(reader)
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def json(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        status, content = await self.request(method, path, body)
        if status != expect:
            raise HttpError(f"{method} {path}: {status} {content[:300]!r}")
        return orjson.loads(content)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)
