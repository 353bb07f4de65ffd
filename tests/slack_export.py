"""A small Slack workspace export, written by the tests to Slack's documented format
(https://slack.com/help/articles/220556107): users.json, channels.json, groups.json,
dms.json, a folder of day files per conversation, and a file under __uploads/."""

from __future__ import annotations

import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

NOTES = b"the notes, in plain text\n"


def ts(seconds: int, micros: int = 0) -> str:
    return f"{seconds}.{micros:06d}"


# Times of the history: 2024-01-02 09:00 UTC and on.
T0 = 1_704_186_000


@dataclass
class Export:
    """The export's ids and addresses, for the test's checks."""

    team: str = field(default_factory=lambda: "T" + uuid.uuid4().hex[:10].upper())
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])

    def email(self, who: str) -> str:
        return f"{who}-{self.tag}@example.test"

    @property
    def users(self) -> list[dict[str, Any]]:
        team = self.team
        return [
            {
                "id": "U01ANN",
                "team_id": team,
                "name": "ann",
                "is_admin": True,
                "is_owner": True,
                "profile": {"real_name": "Ann Example", "email": self.email("ann")},
            },
            {
                "id": "U02BOB",
                "team_id": team,
                "name": "bob",
                "profile": {
                    "real_name": "Robert Builder",
                    "display_name": "Bob Builder",
                    "email": self.email("bob"),
                },
            },
            {
                "id": "U03CAT",
                "team_id": team,
                "name": "cat",
                "deleted": True,
                "profile": {"real_name": "Cat Former", "email": self.email("cat")},
            },
            {
                "id": "U04BOT",
                "team_id": team,
                "name": "deploybot",
                "is_bot": True,
                "profile": {"real_name": "Deploy Bot"},
            },
        ]

    def channels(self) -> list[dict[str, Any]]:
        return [
            {
                "id": "C01GEN",
                "name": "general",
                "created": T0 - 86_400,
                "creator": "U01ANN",
                "members": ["U01ANN", "U02BOB", "U03CAT"],
            }
        ]

    def groups(self) -> list[dict[str, Any]]:
        return [
            {
                "id": "G01SEC",
                "name": "secret-plans",
                "created": T0 - 86_400,
                "creator": "U02BOB",
                "members": ["U01ANN", "U02BOB"],
            }
        ]

    def dms(self) -> list[dict[str, Any]]:
        return [{"id": "D01ANNBOB", "created": T0 - 86_400, "members": ["U01ANN", "U02BOB"]}]

    def general_day_one(self) -> list[dict[str, Any]]:
        return [
            {
                "type": "message",
                "subtype": "channel_join",
                "ts": ts(T0),
                "user": "U02BOB",
                "text": "<@U02BOB> has joined the channel",
            },
            {
                "type": "message",
                "ts": ts(T0 + 60, 123456),
                "user": "U01ANN",
                "text": "Hello <@U02BOB>, see <https://example.com/plan|the plan> &amp; more",
                "thread_ts": ts(T0 + 60, 123456),
                "reply_count": 1,
                "replies": [{"user": "U02BOB", "ts": ts(T0 + 120)}],
                "reactions": [
                    {"name": "+1", "users": ["U02BOB", "U03CAT"], "count": 2},
                    {"name": "party_parrot", "users": ["U02BOB"], "count": 1},
                ],
            },
            {
                "type": "message",
                "ts": ts(T0 + 120),
                "user": "U02BOB",
                "text": "On it",
                "thread_ts": ts(T0 + 60, 123456),
                "parent_user_id": "U01ANN",
            },
            {
                "type": "message",
                "subtype": "bot_message",
                "ts": ts(T0 + 180),
                "bot_id": "B01DEPLOY",
                "username": "deploybot",
                "text": "Deploy finished",
            },
            {
                "type": "message",
                "ts": ts(T0 + 240),
                "user": "U01ANN",
                "text": "Fixed the typo",
                "edited": {"user": "U01ANN", "ts": ts(T0 + 300)},
            },
            {
                "type": "message",
                "subtype": "file_share",
                "ts": ts(T0 + 360),
                "user": "U02BOB",
                "text": "the notes",
                "files": [
                    {
                        "id": "F01NOTES",
                        "name": "notes.txt",
                        "mimetype": "text/plain",
                        "url_private": "https://files.slack.com/files-pri/T/notes.txt",
                    }
                ],
            },
            {
                "type": "message",
                "ts": ts(T0 + 420),
                "user": "U02BOB",
                "text": "and the slides",
                "files": [
                    {
                        "id": "F02SLIDES",
                        "name": "slides.pdf",
                        "mimetype": "application/pdf",
                        "url_private": "https://files.slack.com/files-pri/T/slides.pdf",
                    }
                ],
            },
            {"type": "message", "ts": ts(T0 + 480), "user": "U99GHOST", "text": "who am I"},
        ]

    def write(
        self, path: Path, *, without: str | None = None, extra: dict[str, Any] | None = None
    ) -> Path:
        """The zip at `path`; `without`: a top-level file to leave out; `extra`: members
        to add or replace (name: JSON value)."""
        files: dict[str, Any] = {
            "users.json": self.users,
            "channels.json": self.channels(),
            "groups.json": self.groups(),
            "dms.json": self.dms(),
            "general/2024-01-02.json": self.general_day_one(),
            "general/2024-01-03.json": [
                {
                    "type": "message",
                    "ts": ts(T0 + 86_400),
                    "user": "U03CAT",
                    "text": f"the zebra{self.tag} is found by search",
                }
            ],
            "secret-plans/2024-01-02.json": [
                {"type": "message", "ts": ts(T0 + 30), "user": "U02BOB", "text": "private plans"}
            ],
            "D01ANNBOB/2024-01-02.json": [
                {"type": "message", "ts": ts(T0 + 90), "user": "U02BOB", "text": "hi Ann"}
            ],
        }
        files.update(extra or {})
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, value in files.items():
                if name != without:
                    archive.writestr(name, orjson.dumps(value))
            archive.writestr("__uploads/F01NOTES/notes.txt", NOTES)
        return path
