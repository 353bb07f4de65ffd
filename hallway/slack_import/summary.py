"""What an import wrote and what it left out, counted by reason, for the closing report."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

# The reasons a record is left out, as the summary words them.
BOT_ACCOUNT = "bot accounts (their messages are left out too)"
BOT_MESSAGE = "bot messages"
UNKNOWN_USER = "messages by people not in users.json"
CUSTOM_EMOJI = "reactions with a custom emoji"
UNKNOWN_REACTOR = "reactions by people not in users.json"
MISSING_FILE = "files not in the export"
FILE_REFUSED = "files refused (too large, empty or of a blocked type)"
MALFORMED = "malformed messages (no ts, or not an object)"
EMPTY = "messages with no text and no file"
UNKNOWN_FOLDER = "day files of conversations the export does not list"
TAKEN_EMAIL = "people imported without their email (it has an account elsewhere)"
ALREADY = "messages imported before (left as they are)"
NOBODY = "conversations with nobody imported in them"
LEFT_OUT = "messages of conversations with nobody imported in them"


def unsupported(subtype: str) -> str:
    return f"messages of subtype {subtype}"


@dataclass
class Summary:
    imported: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)

    def lines(self) -> list[str]:
        out = ["imported:"]
        out += [f"  {what}: {n}" for what, n in self.imported.items() if n] or ["  nothing"]
        out.append("skipped:")
        out += [f"  {why}: {n}" for why, n in sorted(self.skipped.items()) if n] or ["  nothing"]
        return out
