"""Where file bytes live: a local directory or an S3-compatible bucket, chosen by settings.

Keys are opaque paths made by the domain (grouped by company and conversation); a file's
original name never becomes part of one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Protocol

from hallway.config import Settings


class ObjectMissing(Exception):
    """The key has no object (deleted, or never stored)."""


class Storage(Protocol):
    @property
    def staging_dir(self) -> Path:
        """Where uploads are written before `put` (for local storage: the same filesystem)."""
        ...

    async def start(self) -> None:
        """Create what must exist (directories, the bucket)."""

    async def put(self, key: str, source: Path, content_type: str) -> None:
        """Store the complete file at `source` under `key`; `source` is gone afterwards.
        An object appears whole or not at all."""

    async def size(self, key: str) -> int:
        """The object's length in bytes; raises ObjectMissing."""
        ...

    async def open(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        """The bytes [start, end) of an object, as chunks. Raises ObjectMissing here, before
        the first chunk, so a caller can still answer with an error."""
        ...

    async def delete(self, keys: Sequence[str]) -> None:
        """Remove objects; keys without one are fine."""

    async def ping(self) -> None:
        """Raise unless objects can be stored now (for /readyz)."""

    async def close(self) -> None: ...


def open_storage(settings: Settings) -> Storage:
    # Imported here: the backends import ObjectMissing from this module.
    from hallway.files.local import LocalStorage
    from hallway.files.s3 import S3Storage

    if settings.storage == "s3":
        return S3Storage(settings)
    return LocalStorage(settings.data_dir / "files")
