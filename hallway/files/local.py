"""Files in a local directory: one file per key, moved into place whole."""

from __future__ import annotations

import asyncio
import io
import os
import re
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from hallway.files.storage import ObjectMissing

READ_CHUNK_BYTES = 256 * 1024
_KEY = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$")


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    @property
    def staging_dir(self) -> Path:
        # Inside the root, so moving a staged file into place is an atomic rename.
        return self.root / ".staging"

    def _path(self, key: str) -> Path:
        # Keys are ours, but a key is never allowed to name anything outside the root.
        if not _KEY.match(key):
            raise ValueError(f"invalid storage key {key!r}")
        return self.root / key

    async def start(self) -> None:
        await asyncio.to_thread(self.staging_dir.mkdir, parents=True, exist_ok=True)

    async def put(self, key: str, source: Path, content_type: str) -> None:
        target = self._path(key)

        def move() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)

        await asyncio.to_thread(move)

    async def size(self, key: str) -> int:
        try:
            stat = await asyncio.to_thread(self._path(key).stat)
        except FileNotFoundError as exc:
            raise ObjectMissing(key) from exc
        return stat.st_size

    async def open(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        try:
            handle = await asyncio.to_thread(self._path(key).open, "rb")
        except FileNotFoundError as exc:
            raise ObjectMissing(key) from exc
        return _read(handle, start, end)

    async def delete(self, keys: Sequence[str]) -> None:
        def remove() -> None:
            for key in keys:
                self._path(key).unlink(missing_ok=True)

        await asyncio.to_thread(remove)

    async def ping(self) -> None:
        def check() -> None:
            if not os.access(self.staging_dir, os.W_OK) or not os.access(self.root, os.W_OK):
                raise OSError(f"{self.root} is not a writable directory")

        await asyncio.to_thread(check)

    async def close(self) -> None:
        return None


async def _read(handle: io.BufferedReader, start: int, end: int) -> AsyncIterator[bytes]:
    try:
        await asyncio.to_thread(handle.seek, start)
        remaining = end - start
        while remaining > 0:
            chunk = await asyncio.to_thread(handle.read, min(READ_CHUNK_BYTES, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        await asyncio.to_thread(handle.close)
