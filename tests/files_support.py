"""Helpers for the file tests: images made on the spot, uploads, and what storage holds."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import func, select

from hallway.files.local import LocalStorage
from hallway.files.s3 import S3Storage
from hallway.files.storage import Storage
from hallway.store.acting import as_system
from hallway.store.tables import attachments
from tests.support import Person


def png_bytes(width: int = 64, height: int = 48, color: str = "teal") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def jpeg_bytes(width: int = 400, height: int = 300, exif: Image.Exif | None = None) -> bytes:
    """A noisy JPEG (noise keeps it large enough to truncate meaningfully)."""
    out = io.BytesIO()
    image = Image.effect_noise((width, height), 64).convert("RGB")
    image.save(out, format="JPEG", quality=90, exif=exif if exif is not None else Image.Exif())
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a huge size over a tiny body: a decompression bomb's front."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    body = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


async def upload(
    person: Person,
    conversation_id: str,
    content: bytes,
    filename: str = "file.bin",
    claimed_type: str = "application/octet-stream",
) -> httpx.Response:
    return await person.post(
        f"/api/v1/conversations/{conversation_id}/attachments",
        files={"file": (filename, content, claimed_type)},
    )


async def uploaded(person: Person, conversation_id: str, content: bytes, **kwargs: Any) -> Any:
    r = await upload(person, conversation_id, content, **kwargs)
    assert r.status_code == 201, r.text
    return r.json()


async def send_files(person: Person, conversation_id: str, ids: list[str], body: str = "") -> Any:
    return await person.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"body": body, "attachment_ids": ids},
    )


def storage_of(app: FastAPI) -> Storage:
    storage: Storage = app.state.ctx.storage
    return storage


async def stored_keys(app: FastAPI, conversation_id: str) -> set[str]:
    """The objects storage holds for a conversation (the S3 bucket serves a whole run)."""
    storage = storage_of(app)
    if isinstance(storage, LocalStorage):
        keys = {
            str(p.relative_to(storage.root))
            for p in storage.root.rglob("*")
            if p.is_file() and storage.staging_dir not in p.parents
        }
    else:
        assert isinstance(storage, S3Storage)
        pages = storage.client.get_paginator("list_objects_v2").paginate(Bucket=storage.bucket)
        keys = {item["Key"] for page in pages for item in page.get("Contents", [])}
    return {key for key in keys if key.split("/")[1] == conversation_id}


def staged_files(app: FastAPI) -> list[Path]:
    return list(storage_of(app).staging_dir.iterdir())


async def attachment_rows(app: FastAPI, conversation_id: str) -> int:
    """Rows in the conversation, marked for removal or not (the PostgreSQL database is shared
    by the tests of a run, so counts are per conversation)."""
    with as_system():
        async with app.state.ctx.db.read() as conn:
            found = await conn.execute(
                select(func.count())
                .select_from(attachments)
                .where(attachments.c.conversation_id == conversation_id)
            )
            return int(found.scalar_one())


def fail_thumbnail_puts(app: FastAPI, monkeypatch: Any, message: str) -> None:
    """Make storage refuse every thumbnail write (after the file itself was stored)."""
    storage = app.state.ctx.storage
    real_put = storage.put

    async def put_then_fail_on_thumbnail(key: str, source: Path, content_type: str) -> None:
        if key.endswith(".thumbnail"):
            raise OSError(message)
        await real_put(key, source, content_type)

    monkeypatch.setattr(storage, "put", put_then_fail_on_thumbnail)
