"""Attachments: upload, sniffing, thumbnails, limits, signed links, downloads and cleanup."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image, ImageOps
from sqlalchemy import select, update

from hallway.api.app import create_app
from hallway.config import Settings
from hallway.domain.actor import Actor
from hallway.domain.attachment_cleanup import sweep_attachments
from hallway.domain.attachment_upload import clean_filename, upload_attachment
from hallway.files.images import ImageInfo, make_thumbnail
from hallway.files.links import FileLinks
from hallway.files.sniffing import sniff
from hallway.store.acting import as_system
from hallway.store.tables import attachments, events
from hallway.store.types import utcnow
from tests.files_support import (
    attachment_rows,
    fail_thumbnail_puts,
    jpeg_bytes,
    png_bytes,
    png_header_only,
    send_files,
    staged_files,
    stored_keys,
    upload,
    uploaded,
)
from tests.support import Directory, Person, error_of, eventually, settings_from_env

pytestmark = pytest.mark.anyio

LIMIT = 256 * 1024
BOUNDARY = "hallway-test-boundary"


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return settings_from_env(
        env,
        max_upload_bytes=LIMIT,
        max_files_per_message=3,
        max_image_pixels=4_000_000,
        thumbnail_max_px=64,
    )


@dataclass
class Room:
    admin: Person
    bob: Person
    conversation_id: str


@pytest.fixture
async def room(directory: Directory) -> Room:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    conversation = await directory.conversation(admin, "group", [bob], title="files")
    return Room(admin, bob, conversation["id"])


async def fetch(person: Person, url: str, **kwargs: Any) -> httpx.Response:
    """Follow a signed link: no Authorization header, the link is the credential."""
    return await person.client.get(url, **kwargs)


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return f"{parts.path}?{urlencode(query)}"


def multipart_head(filename: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()


class CountingBody:
    """A multipart body sent in chunks, counting how many chunks the server pulled."""

    def __init__(self, chunks: int, chunk_bytes: int = 64 * 1024) -> None:
        self.chunks = chunks
        self.chunk_bytes = chunk_bytes
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield multipart_head("big.bin")
        for _ in range(self.chunks):
            self.pulled += 1
            yield b"\x00" * self.chunk_bytes
        yield f"\r\n--{BOUNDARY}--\r\n".encode()


# --- upload and download ----------------------------------------------------------------


async def test_upload_round_trip_with_safe_download_headers(room: Room, app: FastAPI) -> None:
    content = os.urandom(100_000)
    body = await uploaded(room.admin, room.conversation_id, content, filename="report.bin")
    assert set(body) == {
        "id",
        "filename",
        "content_type",
        "size",
        "width",
        "height",
        "url",
        "thumbnail_url",
    }
    assert body["filename"] == "report.bin"
    assert body["content_type"] == "application/octet-stream"
    assert body["size"] == len(content)
    assert (body["width"], body["height"], body["thumbnail_url"]) == (None, None, None)

    r = await fetch(room.admin, body["url"])
    assert r.status_code == 200
    assert r.content == content
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-length"] == str(len(content))
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-disposition"] == (
        "attachment; filename=\"report.bin\"; filename*=UTF-8''report.bin"
    )
    assert r.headers["etag"] == f'"{hashlib.sha256(content).hexdigest()}"'
    assert r.headers["accept-ranges"] == "bytes"
    cache = r.headers["cache-control"]
    assert cache.startswith("private, max-age=")
    max_age = int(cache.split("max-age=")[1].split(",")[0])
    assert 0 < max_age <= app.state.settings.file_link_ttl_seconds


async def test_storage_keys_are_grouped_by_company_and_conversation(
    room: Room, app: FastAPI
) -> None:
    body = await uploaded(room.admin, room.conversation_id, png_bytes(), filename="../../x.png")
    assert body["filename"] == "x.png"
    with as_system():
        async with app.state.ctx.db.read() as conn:
            row = (
                await conn.execute(select(attachments).where(attachments.c.id == body["id"]))
            ).one()
    prefix = f"{room.admin.company_id}/{room.conversation_id}/"
    assert row.storage_key == prefix + body["id"]
    assert row.thumb_key == prefix + body["id"] + ".thumbnail"
    assert await stored_keys(app, room.conversation_id) == {row.storage_key, row.thumb_key}


async def test_a_non_ascii_name_is_kept_exactly_in_filename_star(room: Room) -> None:
    pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n"
    body = await uploaded(room.admin, room.conversation_id, pdf, filename="résumé 2024.pdf")
    assert body["content_type"] == "application/pdf"
    r = await fetch(room.admin, body["url"])
    assert r.headers["content-disposition"] == (
        "attachment; filename=\"r_sum_ 2024.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%202024.pdf"
    )


async def test_sent_files_travel_with_the_message_with_fresh_links(
    room: Room, app: FastAPI
) -> None:
    image = await uploaded(room.admin, room.conversation_id, png_bytes(), filename="a.png")
    text = await uploaded(room.admin, room.conversation_id, b"plain words\n", filename="a.txt")
    sent = await send_files(room.admin, room.conversation_id, [image["id"], text["id"]])
    assert sent.status_code == 201, sent.text
    message = sent.json()
    assert [a["id"] for a in message["attachments"]] == [image["id"], text["id"]]
    assert all(a["url"] for a in message["attachments"])

    history = await room.bob.get(f"/api/v1/conversations/{room.conversation_id}/messages")
    [seen] = history.json()["messages"]
    seen_image, seen_text = seen["attachments"]
    assert seen_image["thumbnail_url"] and seen_text["thumbnail_url"] is None
    assert (await fetch(room.bob, seen_image["url"])).content == png_bytes()
    thumbnail = await fetch(room.bob, seen_image["thumbnail_url"])
    assert thumbnail.headers["content-type"] == "image/webp"

    feed = await room.bob.get(f"/api/v1/conversations/{room.conversation_id}/events")
    [created] = [e for e in feed.json()["events"] if e["kind"] == "message.created"]
    assert (await fetch(room.bob, created["data"]["attachments"][1]["url"])).content == (
        b"plain words\n"
    )
    # The log itself keeps metadata only: links expire, the log does not.
    with as_system():
        async with app.state.ctx.db.read() as conn:
            payload = (
                await conn.execute(
                    select(events.c.payload).where(
                        events.c.conversation_id == room.conversation_id,
                        events.c.kind == "message.created",
                    )
                )
            ).scalar_one()
    assert [set(a) for a in payload["attachments"]] == [
        {"id", "filename", "content_type", "size", "width", "height"}
    ] * 2


async def test_a_message_may_be_files_only_or_text_and_files(room: Room) -> None:
    first = await uploaded(room.admin, room.conversation_id, b"one")
    second = await uploaded(room.admin, room.conversation_id, b"two")
    only_files = await send_files(room.admin, room.conversation_id, [first["id"]])
    assert only_files.status_code == 201, only_files.text
    both = await send_files(room.admin, room.conversation_id, [second["id"]], body="see this")
    assert both.status_code == 201, both.text
    assert both.json()["body"] == "see this"


# --- sniffing -----------------------------------------------------------------------------


async def test_a_png_named_exe_is_an_image(room: Room) -> None:
    body = await uploaded(
        room.admin,
        room.conversation_id,
        png_bytes(64, 48),
        filename="setup.exe",
        claimed_type="application/x-msdownload",
    )
    assert body["content_type"] == "image/png"
    assert (body["width"], body["height"]) == (64, 48)
    r = await fetch(room.admin, body["url"])
    assert r.headers["content-type"] == "image/png"
    assert r.headers["content-disposition"].startswith("inline;")
    thumbnail = Image.open(io.BytesIO((await fetch(room.admin, body["thumbnail_url"])).content))
    assert thumbnail.format == "WEBP" and max(thumbnail.size) <= 64


async def test_html_claiming_to_be_a_png_is_refused_as_html(room: Room, app: FastAPI) -> None:
    html = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"
    r = await upload(room.admin, room.conversation_id, html, "cat.png", "image/png")
    error = error_of(r, 415, "blocked_content_type")
    assert error["details"]["content_type"] == "text/html"
    assert await attachment_rows(app, room.conversation_id) == 0
    assert await stored_keys(app, room.conversation_id) == set()


async def test_svg_is_refused(room: Room) -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    r = await upload(room.admin, room.conversation_id, svg, "logo.svg", "image/svg+xml")
    assert error_of(r, 415, "blocked_content_type")["details"]["content_type"] == "image/svg+xml"


async def test_text_claiming_to_be_a_png_is_served_as_text_to_save(room: Room) -> None:
    body = await uploaded(
        room.admin, room.conversation_id, b"just words", filename="x.png", claimed_type="image/png"
    )
    assert body["content_type"] == "text/plain"
    assert body["thumbnail_url"] is None
    r = await fetch(room.admin, body["url"])
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n....", "image/png"),
        (b"\xff\xd8\xff\xe0....JFIF", "image/jpeg"),
        (b"GIF89a....", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wav"),
        (b"%PDF-1.7", "application/pdf"),
        (b"PK\x03\x04\x14\x00", "application/zip"),
        (b"MZ\x90\x00", "application/x-msdownload"),
        (b"\x00\x00\x00\x18ftypmp42", "video/mp4"),
        (b"\x00\x00\x00\x18ftypqt  ", "video/quicktime"),
        (b"  \n<!DOCTYPE HTML><p>hi", "text/html"),
        (b"<script>alert(1)</script>", "text/html"),
        (b"\xef\xbb\xbf<html>", "text/html"),
        (b"<?xml version='1.0'?><svg>", "image/svg+xml"),
        (b"<?xml version='1.0'?><note/>", "application/xml"),
        (b"<b>bold</b> words", "text/html"),
        (b"<bogus> is just text", "text/plain"),
        ("héllo wörld".encode(), "text/plain"),
        ("é".encode()[:1], "text/plain"),  # a head may end inside a character
        (b"text\x00with a null", "application/octet-stream"),
        (b"\xfe\xfd\xfc", "application/octet-stream"),
    ],
)
def test_sniffing(head: bytes, expected: str) -> None:
    assert sniff(head) == expected


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\notes.txt", "notes.txt"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),  # no right-to-left override tricks
        ("tab\there\n.txt", "tabhere.txt"),
        ("   ", "file"),
        ("x" * 300 + ".jpeg", "x" * 250 + ".jpeg"),
    ],
)
def test_file_names_are_cleaned(given: str, kept: str) -> None:
    assert clean_filename(given) == kept


# --- images -------------------------------------------------------------------------------


async def test_exif_orientation_is_applied_and_metadata_stripped(room: Room) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    exif[0x010F] = "SecretCam"  # Make
    original = jpeg_bytes(200, 100, exif=exif)
    body = await uploaded(room.admin, room.conversation_id, original, filename="p.jpg")
    assert body["content_type"] == "image/jpeg"
    assert (body["width"], body["height"]) == (100, 200)

    raw = (await fetch(room.admin, body["thumbnail_url"])).content
    thumbnail = Image.open(io.BytesIO(raw))
    assert thumbnail.size == (32, 64)
    assert not thumbnail.getexif()
    assert b"SecretCam" not in raw
    # The original is served as uploaded, byte for byte.
    assert (await fetch(room.admin, body["url"])).content == original
    assert ImageOps.exif_transpose(Image.open(io.BytesIO(original))).size == (100, 200)


@pytest.mark.parametrize(
    ("mode", "fmt", "options", "content_type"),
    [
        ("I;16", "PNG", {}, "image/png"),  # 16-bit grey
        ("P", "GIF", {"transparency": 0}, "image/gif"),
        ("CMYK", "JPEG", {}, "image/jpeg"),
        ("RGBA", "WEBP", {}, "image/webp"),
        ("1", "PNG", {}, "image/png"),
    ],
)
def test_every_image_mode_gets_a_thumbnail(
    tmp_path: Path, mode: str, fmt: str, options: dict[str, Any], content_type: str
) -> None:
    source, target = tmp_path / "image", tmp_path / "thumbnail"
    Image.new(mode, (300, 200)).save(source, format=fmt, **options)
    info = make_thumbnail(source, target, max_px=64, max_pixels=1_000_000)
    assert info == ImageInfo(content_type, 300, 200)
    assert Image.open(target).size == (64, 43)


async def test_a_decompression_bomb_is_refused(room: Room, app: FastAPI) -> None:
    bomb = png_header_only(100_000, 100_000)
    assert len(bomb) < 1000
    r = await upload(room.admin, room.conversation_id, bomb, "bomb.png", "image/png")
    error_of(r, 422, "image_too_large")
    assert await attachment_rows(app, room.conversation_id) == 0
    assert await stored_keys(app, room.conversation_id) == set()
    assert staged_files(app) == []


async def test_an_image_over_the_pixel_limit_is_refused(room: Room) -> None:
    out = io.BytesIO()
    Image.new("1", (2500, 2000)).save(out, format="PNG")  # 5 MP, a few KiB
    r = await upload(room.admin, room.conversation_id, out.getvalue(), "big.png", "image/png")
    error_of(r, 422, "image_too_large")


async def test_a_truncated_jpeg_is_kept_as_plain_bytes(room: Room) -> None:
    whole = jpeg_bytes()
    cut = whole[: len(whole) // 2]
    body = await uploaded(room.admin, room.conversation_id, cut, filename="cut.jpg")
    assert body["content_type"] == "application/octet-stream"
    assert (body["width"], body["height"], body["thumbnail_url"]) == (None, None, None)
    r = await fetch(room.admin, body["url"])
    assert r.content == cut
    assert r.headers["content-disposition"].startswith("attachment;")


async def test_a_corrupt_png_is_kept_as_plain_bytes(room: Room) -> None:
    corrupt = b"\x89PNG\r\n\x1a\n" + os.urandom(2000)
    body = await uploaded(room.admin, room.conversation_id, corrupt, filename="bad.png")
    assert body["content_type"] == "application/octet-stream"
    assert body["thumbnail_url"] is None


# --- limits -------------------------------------------------------------------------------


async def test_a_file_of_exactly_the_limit_is_accepted(room: Room) -> None:
    body = await uploaded(room.admin, room.conversation_id, b"\x00" * LIMIT)
    assert body["size"] == LIMIT


async def test_a_declared_oversize_body_is_refused_before_it_is_read(
    room: Room, client: httpx.AsyncClient, app: FastAPI
) -> None:
    body = CountingBody(chunks=32)
    r = await client.post(
        f"/api/v1/conversations/{room.conversation_id}/attachments",
        headers={
            **room.admin.headers,
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Content-Length": str(LIMIT * 8),
        },
        content=body,
    )
    error_of(r, 413, "file_too_large")
    assert body.pulled == 0
    assert await attachment_rows(app, room.conversation_id) == 0


async def test_an_undeclared_oversize_body_is_cut_off_mid_stream(
    room: Room, client: httpx.AsyncClient, app: FastAPI
) -> None:
    body = CountingBody(chunks=64)  # 4 MiB against a 256 KiB limit
    r = await client.post(
        f"/api/v1/conversations/{room.conversation_id}/attachments",
        headers={
            **room.admin.headers,
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        },
        content=body,
    )
    assert "content-length" not in r.request.headers
    error_of(r, 413, "file_too_large")
    assert body.pulled <= LIMIT // body.chunk_bytes + 2
    assert await attachment_rows(app, room.conversation_id) == 0
    assert await stored_keys(app, room.conversation_id) == set()
    assert staged_files(app) == []


async def test_a_body_that_ends_inside_the_file_stores_nothing(
    room: Room, client: httpx.AsyncClient, app: FastAPI
) -> None:
    r = await client.post(
        f"/api/v1/conversations/{room.conversation_id}/attachments",
        headers={
            **room.admin.headers,
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        },
        content=multipart_head("half.bin") + b"the first half of a fi",
    )
    error_of(r, 422, "malformed_multipart")
    assert await attachment_rows(app, room.conversation_id) == 0
    assert staged_files(app) == []


async def test_malformed_uploads_are_refused(room: Room) -> None:
    url = f"/api/v1/conversations/{room.conversation_id}/attachments"
    error_of(await upload(room.admin, room.conversation_id, b""), 422, "empty_file")
    error_of(await room.admin.post(url, json={"file": "x"}), 415, "multipart_required")
    error_of(await room.admin.post(url, files={"other": ("a.txt", b"hi")}), 422, "missing_file")
    not_a_file = {"file": (None, b"a plain field, no filename")}
    error_of(await room.admin.post(url, files=not_a_file), 422, "missing_file")


async def test_files_per_message_are_limited(room: Room) -> None:
    ids = [(await uploaded(room.admin, room.conversation_id, b"%d" % i))["id"] for i in range(4)]
    error_of(await send_files(room.admin, room.conversation_id, ids), 422, "invalid_input")
    assert (await send_files(room.admin, room.conversation_id, ids[:3])).status_code == 201


async def test_only_own_unsent_uploads_of_the_same_conversation_can_be_sent(
    room: Room, directory: Directory
) -> None:
    other = await directory.conversation(room.admin, "direct", [room.bob])
    mine = await uploaded(room.admin, room.conversation_id, b"mine")
    bobs = await uploaded(room.bob, room.conversation_id, b"bob's")
    elsewhere = await uploaded(room.admin, other["id"], b"elsewhere")

    for ids in ([mine["id"], bobs["id"]], [elsewhere["id"]], ["no-such-id"]):
        r = await send_files(room.admin, room.conversation_id, ids)
        error = error_of(r, 422, "invalid_attachments")
        assert mine["id"] not in error["details"]["attachment_ids"]
    # The refused sends claimed nothing: the upload is still free to send, once.
    assert (await send_files(room.admin, room.conversation_id, [mine["id"]])).status_code == 201
    again = await send_files(room.admin, room.conversation_id, [mine["id"]])
    error_of(again, 422, "invalid_attachments")


# --- links --------------------------------------------------------------------------------


async def test_tampered_links_are_refused(room: Room, directory: Directory) -> None:
    other = await directory.conversation(room.admin, "direct", [room.bob])
    body = await uploaded(room.admin, room.conversation_id, png_bytes(), filename="a.png")
    url = body["url"]
    query = parse_qs(urlsplit(url).query)
    signature, expires = query["signature"][0], query["expires"][0]
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    for bad in (
        with_query(url, signature=flipped),
        with_query(url, scope=other["id"]),
        with_query(url, expires=str(int(expires) + 3600)),
        with_query(body["thumbnail_url"], signature=signature, expires=expires),
    ):
        error_of(await fetch(room.admin, bad), 403, "invalid_link")
    error_of(await fetch(room.admin, with_query(url, expires="soon")), 422)
    assert (await fetch(room.admin, url)).status_code == 200


async def test_expired_links_are_refused(room: Room, settings: Settings) -> None:
    body = await uploaded(room.admin, room.conversation_id, b"old news")
    links = FileLinks.from_settings(settings)
    stale = links.url(
        "file", body["id"], room.conversation_id, time.time() - settings.file_link_ttl_seconds
    )
    error_of(await fetch(room.admin, stale), 403, "link_expired")


async def test_a_link_for_another_conversation_opens_nothing(
    room: Room, settings: Settings, directory: Directory
) -> None:
    """Even correctly signed, a link only opens the file in the conversation it names."""
    other = await directory.conversation(room.admin, "direct", [room.bob])
    body = await uploaded(room.admin, room.conversation_id, b"here only")
    forged = FileLinks.from_settings(settings).url("file", body["id"], other["id"], time.time())
    error_of(await fetch(room.admin, forged), 404, "not_found")


async def test_range_and_conditional_requests(room: Room) -> None:
    content = bytes(range(256)) * 4
    url = (await uploaded(room.admin, room.conversation_id, content))["url"]

    async def ranged(value: str, **headers: str) -> httpx.Response:
        return await fetch(room.admin, url, headers={"Range": value, **headers})

    r = await ranged("bytes=10-19")
    assert r.status_code == 206
    assert r.content == content[10:20]
    assert r.headers["content-range"] == "bytes 10-19/1024"
    assert r.headers["content-length"] == "10"
    assert (await ranged("bytes=1000-")).content == content[1000:]
    assert (await ranged("bytes=-5")).content == content[-5:]
    assert (await ranged("bytes=1020-5000")).headers["content-range"] == "bytes 1020-1023/1024"

    unsatisfiable = await ranged("bytes=1024-")
    error_of(unsatisfiable, 416, "range_not_satisfiable")
    assert unsatisfiable.headers["content-range"] == "bytes */1024"

    for whole in (await ranged("bytes=0-1,5-6"), await ranged("bytes=9-3")):
        assert whole.status_code == 200 and whole.content == content
    etag = r.headers["etag"]
    assert (await ranged("bytes=0-9", **{"If-Range": '"stale"'})).status_code == 200
    assert (await ranged("bytes=0-9", **{"If-Range": etag})).status_code == 206

    not_modified = await fetch(room.admin, url, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.content == b""

    head = await room.admin.client.head(url)
    assert head.status_code == 200
    assert head.headers["content-length"] == "1024" and head.content == b""


# --- who may ------------------------------------------------------------------------------


async def test_outsiders_cannot_upload(room: Room, directory: Directory, app: FastAPI) -> None:
    stranger = await directory.company("Elsewhere")
    carol = await directory.colleague(room.admin, "Carol")  # same company, not a member
    for outsider in (stranger, carol):
        r = await upload(outsider, room.conversation_id, b"let me in")
        error_of(r, 404, "not_found")
    assert await attachment_rows(app, room.conversation_id) == 0


async def test_a_removed_member_gets_no_new_links(room: Room) -> None:
    body = await uploaded(room.admin, room.conversation_id, b"shared")
    assert (await send_files(room.admin, room.conversation_id, [body["id"]])).status_code == 201
    removed = await room.admin.delete(
        f"/api/v1/conversations/{room.conversation_id}/members/{room.bob.id}"
    )
    assert removed.status_code == 204
    for path in ("messages", "events"):
        r = await room.bob.get(f"/api/v1/conversations/{room.conversation_id}/{path}")
        error_of(r, 404, "not_found")
    error_of(await upload(room.bob, room.conversation_id, b"still here?"), 404, "not_found")


# --- cleanup ------------------------------------------------------------------------------


async def test_deleting_a_message_deletes_its_files(room: Room, app: FastAPI) -> None:
    body = await uploaded(room.admin, room.conversation_id, png_bytes(), filename="a.png")
    sent = await send_files(room.admin, room.conversation_id, [body["id"]])
    assert len(await stored_keys(app, room.conversation_id)) == 2
    deleted = await room.admin.delete(f"/api/v1/messages/{sent.json()['id']}")
    assert deleted.status_code in (200, 204), deleted.text
    assert await stored_keys(app, room.conversation_id) == set()
    assert await attachment_rows(app, room.conversation_id) == 0
    error_of(await fetch(room.admin, body["url"]), 404, "not_found")
    history = await room.bob.get(f"/api/v1/conversations/{room.conversation_id}/messages")
    assert history.json()["messages"][0]["attachments"] == []


async def test_a_failed_store_leaves_no_row_and_no_object(
    room: Room, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_thumbnail_puts(app, monkeypatch, "storage is full")
    with pytest.raises(OSError, match="storage is full"):
        await upload(room.admin, room.conversation_id, png_bytes(), "a.png", "image/png")
    assert await attachment_rows(app, room.conversation_id) == 0
    assert await stored_keys(app, room.conversation_id) == set()
    assert staged_files(app) == []


class BrokenUpload:
    """A client that goes away in the middle of its file."""

    declared_size = None

    async def filename(self) -> str:
        return "interrupted.bin"

    async def chunks(self) -> AsyncIterator[bytes]:
        yield b"x" * 1000
        raise ConnectionResetError("client went away")


async def test_an_interrupted_upload_leaves_nothing(room: Room, app: FastAPI) -> None:
    actor = Actor(room.admin.id, room.admin.company_id, "admin")
    with pytest.raises(ConnectionResetError):
        await upload_attachment(app.state.ctx, actor, room.conversation_id, BrokenUpload())
    assert await attachment_rows(app, room.conversation_id) == 0
    assert staged_files(app) == []


async def test_unsent_uploads_are_swept_after_the_ttl(
    room: Room, app: FastAPI, settings: Settings
) -> None:
    ctx = app.state.ctx
    sent = await uploaded(room.admin, room.conversation_id, b"sent")
    assert (await send_files(room.admin, room.conversation_id, [sent["id"]])).status_code == 201
    orphan = await uploaded(room.admin, room.conversation_id, png_bytes(), filename="o.png")
    assert await sweep_attachments(ctx) == 0
    assert await attachment_rows(app, room.conversation_id) == 2

    later = utcnow() + timedelta(seconds=settings.orphan_attachment_ttl_seconds + 60)
    assert await sweep_attachments(ctx, now=later) >= 1
    assert await attachment_rows(app, room.conversation_id) == 1
    prefix = f"{room.admin.company_id}/{room.conversation_id}/"
    assert await stored_keys(app, room.conversation_id) == {prefix + sent["id"]}
    error_of(await fetch(room.admin, orphan["url"]), 404, "not_found")
    late = await send_files(room.admin, room.conversation_id, [orphan["id"]])
    error_of(late, 422, "invalid_attachments")


async def test_the_app_sweeps_in_the_background(env: dict[str, str]) -> None:
    settings = settings_from_env(env, attachment_sweep_interval_seconds=0.05)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://h.test") as client:
            people = Directory(client)
            admin = await people.company()
            bob = await people.colleague(admin, "Bob")
            conversation = await people.conversation(admin, "direct", [bob])
            body = await uploaded(admin, conversation["id"], b"forgotten")
            aged = utcnow() - timedelta(seconds=settings.orphan_attachment_ttl_seconds + 60)
            with as_system():
                async with application.state.ctx.db.write() as conn:
                    await conn.execute(
                        update(attachments)
                        .where(attachments.c.id == body["id"])
                        .values(created_at=aged)
                    )

            async def gone() -> bool:
                return await attachment_rows(application, conversation["id"]) == 0

            await eventually(gone)
            assert await stored_keys(application, conversation["id"]) == set()


async def test_staged_uploads_of_a_stopped_process_are_removed_at_start(
    settings: Settings,
) -> None:
    staging = settings.data_dir / "files" / ".staging"
    staging.mkdir(parents=True, exist_ok=True)
    dead = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await dead.wait()
    alive = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import time; time.sleep(60)"
    )
    try:
        crashed = staging / f"upload-{dead.pid}-abc123"
        uploading = staging / f"upload-{alive.pid}-def456"
        for path in (crashed, uploading):
            path.write_bytes(b"half an upload")
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            assert not crashed.exists()
            assert uploading.exists()  # another process, still running, may finish it
    finally:
        alive.kill()
        await alive.wait()
