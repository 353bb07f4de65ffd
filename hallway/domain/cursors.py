"""Opaque page cursors: clients pass them back unchanged; a forged one is a clear 400."""

from __future__ import annotations

import base64
import binascii

from hallway.domain.errors import InvalidInput


def encode_cursor(*parts: str | int) -> str:
    raw = "|".join(str(p) for p in parts)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, field: str = "before") -> list[str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.urlsafe_b64decode(padded.encode()).decode().split("|")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput("the cursor is not valid", code="invalid_cursor", field=field) from exc


def decode_seq_cursor(cursor: str, field: str = "before") -> int:
    parts = decode_cursor(cursor, field)
    if len(parts) != 2 or parts[0] != "seq" or not parts[1].isdigit():
        raise InvalidInput("the cursor is not valid", code="invalid_cursor", field=field)
    return int(parts[1])
