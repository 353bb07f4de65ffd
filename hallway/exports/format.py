"""The records and the manifest of a Hallway export, as they are written and read.

An export's records are JSON Lines, gzip-compressed: one JSON object a line, each with its
`type`. The same models write them and check them on the way back in (an import reads a
file from outside), so the two cannot drift apart. docs/exports.md describes them.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

FORMAT = "hallway-export"
VERSION = 1
RECORDS_NAME = "hallway.jsonl.gz"
MANIFEST_NAME = "manifest.json"
FILES_DIR = "files"
HASH_CHUNK_BYTES = 1024 * 1024

ScopeKind = Literal["company", "conversation", "person", "day"]
PersonState = Literal["active", "deactivated", "former"]


class InvalidExport(Exception):
    """The file is not a Hallway export this version reads, or it is damaged."""


class Record(BaseModel):
    # Unknown fields are kept out rather than refused: a later version may add some.
    model_config = ConfigDict(extra="ignore", frozen=True)


class CompanyRecord(Record):
    type: Literal["company"] = "company"
    id: str
    name: str
    created_at: datetime


class PersonRecord(Record):
    type: Literal["person"] = "person"
    id: str
    email: str
    display_name: str
    role: Literal["admin", "member"]
    state: PersonState
    created_at: datetime


class MemberRecord(Record):
    user_id: str
    role: Literal["owner", "member"]
    joined_at: datetime


class ConversationRecord(Record):
    type: Literal["conversation"] = "conversation"
    id: str
    kind: Literal["direct", "group", "channel"]
    title: str | None
    created_by: str | None
    created_at: datetime
    members: list[MemberRecord]


class EditRecord(Record):
    old_body: str
    edited_by: str | None
    edited_at: datetime


class AttachmentRecord(Record):
    id: str
    filename: str
    content_type: str
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    width: int | None
    height: int | None
    uploader_id: str | None
    created_at: datetime
    # Where its bytes are in the export (`files/<id>`); None when the export has no files.
    file: str | None


class MessageRecord(Record):
    """A message; a deleted one is a tombstone: `deleted` true, and no body, edits or
    files (hallway/domain/erasure.py erased them)."""

    type: Literal["message"] = "message"
    id: str
    conversation_id: str
    seq: int = Field(ge=1)
    sender_id: str | None
    thread_root_id: str | None
    created_at: datetime
    deleted: bool = False
    deleted_at: datetime | None = None
    deleted_by: str | None = None
    body: str = ""
    edited_at: datetime | None = None
    edits: list[EditRecord] = []
    attachments: list[AttachmentRecord] = []


class ReactionRecord(Record):
    type: Literal["reaction"] = "reaction"
    message_id: str
    user_id: str
    emoji: str
    created_at: datetime


AnyRecord = Annotated[
    CompanyRecord | PersonRecord | ConversationRecord | MessageRecord | ReactionRecord,
    Field(discriminator="type"),
]
_RECORD = TypeAdapter[AnyRecord](AnyRecord)


class FileSum(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    sha256: str
    size: int


class Scope(BaseModel):
    """What an export covers: a company, one of its conversations, what one person wrote,
    or a company's messages of one UTC day; `since` leaves out older messages."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: ScopeKind
    company_id: str
    conversation_id: str | None = None
    user_id: str | None = None
    since: datetime | None = None
    day: date | None = None


class Manifest(BaseModel):
    """What an export holds: its format, what it covers, how many of each, when it was
    made, and the sha256 and size of every other file in it."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    format: Literal["hallway-export"] = "hallway-export"
    version: int = VERSION
    scope: Scope
    includes_files: bool
    counts: dict[str, int]
    created_at: datetime
    files: dict[str, FileSum]
    # Attachments whose stored bytes were gone when the export was written.
    missing_files: list[str] = []

    def to_json(self) -> bytes:
        return self.model_dump_json(indent=2).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        try:
            manifest = cls.model_validate_json(data)
        except ValidationError as exc:
            raise InvalidExport(f"{MANIFEST_NAME} is not a Hallway export manifest: {exc}") from exc
        if manifest.version != VERSION:
            raise InvalidExport(
                f"the export is of format version {manifest.version}; this Hallway reads "
                f"version {VERSION}"
            )
        return manifest


def record_line(record: Record) -> bytes:
    return record.model_dump_json().encode() + b"\n"


class RecordsWriter:
    """Records into a gzip file, byte for byte the same for the same records: the gzip
    header holds neither a time nor a name. Blocking: callers run it in a thread."""

    def __init__(self, path: Path) -> None:
        self._raw = path.open("wb")
        self._gzip = gzip.GzipFile(fileobj=self._raw, mode="wb", filename="", mtime=0)

    def write(self, records: Iterable[Record]) -> None:
        self._gzip.write(b"".join(record_line(r) for r in records))

    def close(self) -> None:
        self._gzip.close()
        self._raw.close()


def read_records(stream: IO[bytes]) -> Iterator[AnyRecord]:
    """The records of a gzip'd JSON Lines stream, checked one by one. Blocking."""
    with gzip.GzipFile(fileobj=stream, mode="rb") as lines:
        try:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    yield _RECORD.validate_json(line)
                except ValidationError as exc:
                    raise InvalidExport(f"{RECORDS_NAME} line {number}: {exc}") from exc
        except (OSError, EOFError) as exc:
            raise InvalidExport(f"{RECORDS_NAME} is not complete gzip data: {exc}") from exc


def file_sum(path: Path) -> FileSum:
    """The sha256 and size of a file. Blocking."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as source:
        while chunk := source.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return FileSum(sha256=digest.hexdigest(), size=size)


def day_start(day: date) -> datetime:
    """A UTC day's first moment: where `since` and a day's archive begin."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def attachment_path(attachment_id: str) -> str:
    return f"{FILES_DIR}/{attachment_id}"
