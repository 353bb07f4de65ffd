"""How names compare: what makes two channel names the same."""

from __future__ import annotations

import unicodedata


def channel_key(title: str) -> str:
    """Equal for names people would call the same: case and Unicode forms ignored
    ("General", "general", "GENERAL"; "Straße", "STRASSE")."""
    return unicodedata.normalize("NFKC", title).casefold()


def conversation_channel_key(kind: str, title: str | None) -> str | None:
    """`conversations.channel_key`: only channels have one."""
    return channel_key(title) if kind == "channel" and title else None
