"""Serving a stored file over HTTP: safe headers, caching, and single byte ranges."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import StreamingResponse

from hallway.api.errors import error_response
from hallway.domain.attachment_download import FileDownload
from hallway.domain.errors import NotFound
from hallway.files.storage import ObjectMissing, Storage

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # exclusive


class RangeNotSatisfiable(Exception):
    pass


def requested_range(header: str | None, size: int) -> ByteRange | None:
    """The one range a `Range` header asks for; None means the whole file. Several ranges,
    or a header we cannot read, are answered with the whole file (RFC 9110 allows it)."""
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first:
        if not last or int(last) == 0:
            raise RangeNotSatisfiable
        return ByteRange(max(0, size - int(last)), size)
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable
    end = min(size, int(last) + 1) if last else size
    return ByteRange(start, end)


def content_disposition(inline: bool, filename: str) -> str:
    """RFC 6266: an ASCII fallback name for old clients, and the exact name as filename*."""
    fallback = "".join(
        ch if " " <= ch <= "~" and ch not in '"\\' else "_" for ch in filename
    ).strip()
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback or 'file'}\"; filename*=UTF-8''{quote(filename, safe='')}"


async def serve_file(request: Request, storage: Storage, download: FileDownload) -> Response:
    try:
        size = download.size if download.size is not None else await storage.size(download.key)
    except ObjectMissing:
        raise NotFound("file not found") from None
    media_type = download.content_type
    if media_type.startswith("text/"):
        media_type += "; charset=utf-8"
    headers = {
        "Content-Type": media_type,
        "Content-Disposition": content_disposition(download.inline, download.filename),
        "X-Content-Type-Options": "nosniff",
        # Nothing served here may run script, even if a browser were talked into rendering it.
        "Content-Security-Policy": "sandbox",
        "ETag": download.etag,
        # A link's URL names one immutable file until it expires.
        "Cache-Control": f"private, max-age={max(0, download.expires - int(time.time()))}, "
        "immutable",
        "Accept-Ranges": "bytes",
    }
    if _etag_matches(download.etag, request.headers.get("if-none-match")):
        return Response(status_code=304, headers=_without_body(headers))
    if_range = request.headers.get("if-range")
    range_header = request.headers.get("range") if if_range in (None, download.etag) else None
    try:
        byte_range = requested_range(range_header, size)
    except RangeNotSatisfiable:
        return error_response(
            416,
            "range_not_satisfiable",
            f"the file has {size} bytes",
            {"size": size},
            headers={"Content-Range": f"bytes */{size}"},
        )
    status = 200
    start, end = 0, size
    if byte_range is not None:
        status = 206
        start, end = byte_range.start, byte_range.end
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers)
    try:
        chunks = await storage.open(download.key, start, end)
    except ObjectMissing:
        raise NotFound("file not found") from None
    return StreamingResponse(chunks, status_code=status, headers=headers)


def _etag_matches(etag: str, if_none_match: str | None) -> bool:
    if if_none_match is None:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return etag in tags or "*" in tags


def _without_body(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k not in ("Content-Type", "Content-Disposition")}
