"""Opaque page cursors: clients pass them back unchanged; a forged one is a clear 422."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime

from hallway.domain.errors import InvalidInput
from hallway.domain.events import MAX_SEQ

_DIGITS = re.compile(r"[0-9]{1,19}")
# What encode_cursor makes: unpadded URL-safe base64. Anything else is refused before it
# is decoded, since base64 decoding skips characters outside its alphabet.
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"
_CURSOR = re.compile(CURSOR_PATTERN)


def encode_cursor(*parts: str | int) -> str:
    raw = "|".join(str(p) for p in parts)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _invalid(field: str) -> InvalidInput:
    return InvalidInput("the cursor is not valid", code="invalid_cursor", field=field)


def decode_cursor(cursor: str, field: str = "before") -> list[str]:
    if not _CURSOR.fullmatch(cursor):
        raise _invalid(field)
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise _invalid(field) from exc
    # PostgreSQL refuses NUL in text even to compare it, so a NUL must never reach a query.
    if "\x00" in raw:
        raise _invalid(field)
    return raw.split("|")


def decode_number_cursor(cursor: str, kind: str, field: str) -> int:
    """The number of a cursor made by `encode_cursor(kind, number)` (a seq, a row id)."""
    parts = decode_cursor(cursor, field)
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
    if len(parts) != 2 or parts[0] != kind or not _DIGITS.fullmatch(parts[1]):
        raise _invalid(field)
    number = int(parts[1])
    if number > MAX_SEQ:  # the largest BIGINT: a larger number cannot even be compared
        raise _invalid(field)
    return number


def decode_time_cursor(cursor: str, field: str) -> tuple[datetime, str]:
    """(a time, an id) of the last item of the previous page, as made by
    `encode_cursor(at.isoformat(), id)`."""
    parts = decode_cursor(cursor, field)
    if len(parts) != 2:
        raise _invalid(field)
    try:
        at = datetime.fromisoformat(parts[0])
    except ValueError as exc:
        raise _invalid(field) from exc
    if at.tzinfo is None:
        raise _invalid(field)
    return at, parts[1]
