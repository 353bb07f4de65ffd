"""A file's content type, decided from its first bytes: what the client claims is ignored."""

from __future__ import annotations

import codecs

SNIFF_BYTES = 4096
OCTET_STREAM = "application/octet-stream"

# (signature, offset) -> type. Order matters where one signature prefixes another.
_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
    (b"WAVE", 8, "audio/wav"),
    (b"AVI ", 8, "video/x-msvideo"),
    (b"%PDF-", 0, "application/pdf"),
    (b"PK\x03\x04", 0, "application/zip"),
    (b"PK\x05\x06", 0, "application/zip"),
    (b"\x1f\x8b", 0, "application/gzip"),
    (b"7z\xbc\xaf\x27\x1c", 0, "application/x-7z-compressed"),
    (b"Rar!\x1a\x07", 0, "application/vnd.rar"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 0, "application/x-ole-storage"),
    (b"{\\rtf", 0, "application/rtf"),
    (b"%!PS", 0, "application/postscript"),
    (b"MZ", 0, "application/x-msdownload"),
    (b"\x7fELF", 0, "application/x-executable"),
    (b"\xca\xfe\xba\xbe", 0, "application/x-mach-binary"),
    (b"\xcf\xfa\xed\xfe", 0, "application/x-mach-binary"),
    (b"#!", 0, "text/x-shellscript"),
    (b"ID3", 0, "audio/mpeg"),
    (b"\xff\xfb", 0, "audio/mpeg"),
    (b"\xff\xf3", 0, "audio/mpeg"),
    (b"\xff\xf2", 0, "audio/mpeg"),
    (b"OggS", 0, "application/ogg"),
    (b"fLaC", 0, "audio/flac"),
    (b"\x1a\x45\xdf\xa3", 0, "video/webm"),
)
_RIFF_TYPES = {"image/webp", "audio/wav", "video/x-msvideo"}

# ISO media (MP4 family): the brand after `ftyp` says what it holds.
_FTYP_BRANDS = {
    b"qt  ": "video/quicktime",
    b"M4A ": "audio/mp4",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heif",
    b"avif": "image/avif",
}

# What a browser would render as HTML (the WHATWG sniffing table), matched after leading
# whitespace, case-insensitively, and followed by a space or `>`.
_HTML_TAGS = (
    b"<!doctype html",
    b"<html",
    b"<head",
    b"<script",
    b"<iframe",
    b"<h1",
    b"<div",
    b"<font",
    b"<table",
    b"<a",
    b"<style",
    b"<title",
    b"<b",
    b"<body",
    b"<br",
    b"<p",
)
_TAG_END = b" \t\n\x0c\r>"
_TEXT_CONTROLS = frozenset(b"\t\n\x0c\r\x1b")  # text may hold these, not other controls


def sniff(head: bytes) -> str:
    """The type of a file that starts with `head` (its first SNIFF_BYTES, or all of it)."""
    for signature, offset, content_type in _MAGIC:
        if head[offset : offset + len(signature)] == signature and (
            content_type not in _RIFF_TYPES or head.startswith(b"RIFF")
        ):
            return content_type
    if head[4:8] == b"ftyp":
        return _FTYP_BRANDS.get(head[8:12], "video/mp4")
    return _sniff_text(head)


def _sniff_text(head: bytes) -> str:
    text = head.removeprefix(codecs.BOM_UTF8)
    markup = text.lstrip(b" \t\n\x0c\r").lower()
    if markup.startswith(b"<?xml"):
        if b"<svg" in markup:
            return "image/svg+xml"
        if b"<html" in markup:
            return "application/xhtml+xml"
        return "application/xml"
    if markup.startswith(b"<svg"):
        return "image/svg+xml"
    if markup.startswith(b"<!--"):
        return "text/html"
    for tag in _HTML_TAGS:
        if markup.startswith(tag) and len(markup) > len(tag) and markup[len(tag)] in _TAG_END:
            return "text/html"
    if _is_utf8_text(text):
        return "text/plain"
    return OCTET_STREAM


def _is_utf8_text(data: bytes) -> bool:
    """UTF-8 without binary control bytes; the head may end inside a character."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=False)
    except UnicodeDecodeError:
        return False
    return all((b >= 0x20 and b != 0x7F) or b in _TEXT_CONTROLS for b in data)
