"""Reading a Slack workspace export (a zip), checked before anything is written.

Slack's documented layout: users.json, channels.json (public channels), and where present
groups.json (private channels), dms.json (direct messages) and mpims.json (group direct
messages); then one folder per conversation (a channel's or group's name, a DM's id) with
one JSON file per day, each a list of messages. Files are not part of Slack's own export;
exports made with a file downloader carry them as `__uploads/<file id>/<name>` (the layout
Mattermost's importer reads too).
"""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any, Literal, TypeGuard

import orjson

ConversationKind = Literal["channel", "group", "direct"]
# public channels, private channels, direct messages, group direct messages
_LISTS = ("channels.json", "groups.json", "dms.json", "mpims.json")
_TS = re.compile(r"^\d{1,12}(\.\d{1,9})?$")
_SLACK_ID = re.compile(r"^[A-Z0-9]{2,40}$")
_DAY_FILE = re.compile(r"^\d{4}-\d{2}-\d{2}\.json$")
UPLOADS = "__uploads"


class ImportFailed(Exception):
    """The export cannot be imported as it is; nothing was written."""


@dataclass(frozen=True, slots=True)
class SlackUser:
    id: str
    name: str
    email: str | None
    is_bot: bool
    is_admin: bool
    deleted: bool


@dataclass(frozen=True, slots=True)
class SlackConversation:
    id: str
    source: str  # which list it came from: channels.json, groups.json, dms.json, mpims.json
    name: str | None
    folder: str
    members: list[str]
    creator: str | None
    created: float | None
    day_files: list[str] = field(default_factory=list)

    @property
    def kind(self) -> ConversationKind:
        if self.source == "channels.json":
            return "channel"
        if self.source == "dms.json" and len(set(self.members)) == 2:
            return "direct"
        return "group"

    @property
    def title(self) -> str | None:
        """Channels and private channels keep their names; DMs and group DMs have none
        (Slack names a group DM after its members, as `mpdm-ann--bob-1`)."""
        return self.name if self.source in ("channels.json", "groups.json") else None


def _json(archive: zipfile.ZipFile, name: str) -> Any:
    try:
        return orjson.loads(archive.read(name))
    except orjson.JSONDecodeError as exc:
        raise ImportFailed(f"{name} in the export is not valid JSON: {exc}") from None


def _objects(archive: zipfile.ZipFile, name: str) -> list[dict[str, Any]]:
    value = _json(archive, name)
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ImportFailed(f"{name} in the export is not a list of objects")
    return value


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _user(record: dict[str, Any]) -> SlackUser:
    user_id = record.get("id")
    if not isinstance(user_id, str) or not _SLACK_ID.match(user_id):
        raise ImportFailed(f"users.json holds a person without a valid id: {user_id!r}")
    profile = record.get("profile") if isinstance(record.get("profile"), dict) else {}
    assert isinstance(profile, dict)
    name = (
        _text(profile.get("display_name"))
        or _text(profile.get("real_name"))
        or _text(record.get("real_name"))
        or _text(record.get("name"))
        or user_id
    )
    return SlackUser(
        id=user_id,
        name=name.strip(),
        email=_text(profile.get("email")),
        is_bot=bool(record.get("is_bot")) or user_id == "USLACKBOT",
        is_admin=bool(record.get("is_admin") or record.get("is_owner")),
        deleted=bool(record.get("deleted")),
    )


def _conversation(record: dict[str, Any], source: str) -> SlackConversation:
    conversation_id = record.get("id")
    if not isinstance(conversation_id, str) or not _SLACK_ID.match(conversation_id):
        raise ImportFailed(f"{source} holds a conversation without a valid id")
    members = record.get("members") or []
    if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
        raise ImportFailed(f"{source}: the members of {conversation_id} are not a list of ids")
    name = _text(record.get("name"))
    folder = conversation_id if source == "dms.json" else (name or conversation_id)
    created = record.get("created")
    creator = record.get("creator") or record.get("user")
    return SlackConversation(
        id=conversation_id,
        source=source,
        name=name,
        folder=folder,
        members=list(dict.fromkeys(members)),
        creator=creator if isinstance(creator, str) else None,
        created=float(created) if isinstance(created, int | float) else None,
    )


class SlackExport:
    """An open, checked export: its people and conversations, and each one's days."""

    def __init__(self, path: Path) -> None:
        try:
            self._zip = zipfile.ZipFile(path)
        except FileNotFoundError:
            raise ImportFailed(f"{path} does not exist") from None
        except (zipfile.BadZipFile, OSError) as exc:
            raise ImportFailed(f"{path} is not a readable zip file: {exc}") from None
        try:
            self._check(path)
        except BaseException:
            self._zip.close()
            raise

    def _check(self, path: Path) -> None:
        try:
            broken = self._zip.testzip()
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise ImportFailed(f"{path} is damaged: {exc}") from None
        if broken is not None:
            raise ImportFailed(f"{path} is damaged: {broken} does not match its checksum")
        names = self._zip.namelist()
        # Some tools zip the export inside a folder of its own.
        roots = {str(PurePosixPath(n).parent) for n in names if n.endswith("users.json")}
        self._root = "" if "." in roots or not roots else f"{sorted(roots)[0]}/"
        for required in ("users.json", "channels.json"):
            if self._root + required not in names:
                raise ImportFailed(f"{path} is not a Slack workspace export: it has no {required}")
        self.users = [_user(r) for r in _objects(self._zip, self._root + "users.json")]
        self.conversations: list[SlackConversation] = []
        for source in _LISTS:
            if self._root + source in names:
                records = _objects(self._zip, self._root + source)
                self.conversations += [_conversation(r, source) for r in records]
        by_folder = {c.folder: c for c in self.conversations}
        self.unknown_folders: Counter[str] = Counter()
        self.uploads: dict[str, str] = {}
        for name in sorted(names):
            parts = PurePosixPath(name.removeprefix(self._root)).parts
            if len(parts) == 3 and parts[0] == UPLOADS and not name.endswith("/"):
                self.uploads.setdefault(parts[1], name)
            elif len(parts) == 2 and _DAY_FILE.match(parts[1]):
                conversation = by_folder.get(parts[0])
                if conversation is None:
                    self.unknown_folders[parts[0]] += 1
                else:
                    conversation.day_files.append(name)
        self.team_id = self._team_id()
        # Every day file is read once now, so that a broken one stops the import before
        # it writes anything; and the messages counted make the progress bar's whole.
        self.message_count = sum(
            len(messages) for c in self.conversations for messages in self.days(c)
        )

    def _team_id(self) -> str:
        """The workspace's id, as its people carry it (`team_id`); the users' ids when the
        export names no team, so that another workspace's export is never taken for it."""
        teams = Counter(
            r.get("team_id")
            for r in _objects(self._zip, self._root + "users.json")
            if isinstance(r.get("team_id"), str)
        )
        if teams:
            return str(teams.most_common(1)[0][0])
        return "users:" + ",".join(sorted(u.id for u in self.users))[:200]

    def days(self, conversation: SlackConversation) -> Iterator[list[Any]]:
        """The messages of each day file of the conversation, in date order (entries that
        are not messages are left for the caller to skip)."""
        for name in sorted(conversation.day_files):
            value = _json(self._zip, name)
            if not isinstance(value, list):
                raise ImportFailed(f"{name} in the export is not a list of messages")
            yield value

    def upload(self, file_id: str) -> str | None:
        """The zip member holding a file's bytes, when the export has it."""
        return self.uploads.get(file_id)

    def open_member(self, name: str) -> IO[bytes]:
        return self._zip.open(name)

    def close(self) -> None:
        self._zip.close()


def is_ts(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and bool(_TS.match(value))
