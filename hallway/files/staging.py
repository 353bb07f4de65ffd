"""Streaming an upload to a staging file: counted, hashed and cut off at the size limit.
Staging files are named by the process that writes them, so those of a crashed process are
known at the next start."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
import time
from collections.abc import AsyncIterable
from dataclasses import dataclass
from pathlib import Path

from hallway.files.sniffing import SNIFF_BYTES

# Chunks are gathered up to this size and written by a worker thread, so the event loop
# never waits on the disk and memory per upload stays bounded.
WRITE_BUFFER_BYTES = 1024 * 1024


class UploadTooLarge(Exception):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"more than {max_bytes} bytes")
        self.max_bytes = max_bytes


@dataclass(frozen=True, slots=True)
class StagedFile:
    path: Path
    size: int
    sha256: str
    head: bytes  # the first SNIFF_BYTES, for sniffing the content type


async def stage_upload(
    chunks: AsyncIterable[bytes], directory: Path, *, max_bytes: int
) -> StagedFile:
    """Write the stream to a new file in `directory`. Raises UploadTooLarge at the first byte
    past `max_bytes`; on that or any other failure the file is removed."""
    fd, name = await asyncio.to_thread(
        tempfile.mkstemp, dir=directory, prefix=f"upload-{os.getpid()}-"
    )
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = hashlib.sha256()
            size = 0
            head = b""
            pending = bytearray()
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise UploadTooLarge(max_bytes)
                digest.update(chunk)
                if len(head) < SNIFF_BYTES:
                    head += chunk[: SNIFF_BYTES - len(head)]
                pending += chunk
                if len(pending) >= WRITE_BUFFER_BYTES:
                    await asyncio.to_thread(out.write, pending)
                    pending = bytearray()
            await asyncio.to_thread(out.write, pending)
    except BaseException:
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise
    return StagedFile(path=path, size=size, sha256=digest.hexdigest(), head=head)


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, someone else's
    return False


def remove_orphaned(directory: Path) -> int:
    """Remove staged files of processes that are no longer running on this machine (a crash
    mid-upload): at start, rather than waiting for remove_stale. A process of another
    machine sharing the folder is out of sight; remove_stale deals with those. Blocking:
    run in a thread."""
    removed = 0
    for path in directory.glob("upload-*-*"):
        pid = path.name.split("-", 2)[1]
        if pid.isdigit() and int(pid) != os.getpid() and _process_gone(int(pid)):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def remove_stale(directory: Path, older_than_seconds: float) -> int:
    """Remove staged files an interrupted process left behind. Blocking: run in a thread."""
    cutoff = time.time() - older_than_seconds
    removed = 0
    for path in directory.glob("upload-*"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed
