"""Helpers for the export tests: a company with a history of every kind, an export's
contents read back and checked, and a company seen as names rather than ids."""

from __future__ import annotations

import gzip
import hashlib
import io
import zipfile
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select

from hallway.store import tables as t
from hallway.store.database import Database
from tests.files_support import png_bytes, send_files, uploaded
from tests.support import Directory, Person, send

DELETED_SECRET = "the launch code is 0000"
EDITED_AWAY = "a first draft nobody should see twice"


@dataclass
class History:
    admin: Person
    bob: Person
    carol: Person
    channel_id: str
    direct_id: str
    files: dict[str, bytes]  # filename -> bytes


async def company_with_history(directory: Directory) -> History:
    """A channel with a thread, an edit, reactions, two files and a deleted message; a
    direct conversation; a deactivated person."""
    admin = await directory.company("Exporters")
    bob = await directory.colleague(admin, "Bob")
    carol = await directory.colleague(admin, "Carol")
    channel = await directory.conversation(admin, "channel", [bob, carol], title="general")
    direct = await directory.conversation(bob, "direct", [admin])
    cid = channel["id"]
    root = await send(admin, cid, "welcome, all")
    reply = await send(bob, cid, EDITED_AWAY, thread_root_id=root["id"])
    r = await bob.patch(f"/api/v1/messages/{reply['id']}", json={"body": "glad to be here"})
    assert r.status_code == 200, r.text
    for person, emoji in ((bob, "👍"), (carol, "🎉"), (admin, "👍")):
        r = await person.put(f"/api/v1/messages/{root['id']}/reactions/{emoji}")
        assert r.status_code == 204, r.text
    files = {"plan.png": png_bytes(), "notes.bin": b"\x00\x01 plain bytes \xff" * 100}
    ids = [
        (await uploaded(bob, cid, content, filename=name))["id"] for name, content in files.items()
    ]
    assert (await send_files(bob, cid, ids, "the plan")).status_code == 201
    doomed = await send(carol, cid, DELETED_SECRET)
    r = await carol.put(f"/api/v1/messages/{doomed['id']}/reactions/😱")
    assert r.status_code == 204, r.text
    assert (await carol.delete(f"/api/v1/messages/{doomed['id']}")).status_code == 204
    await send(carol, cid, "carol signing off")
    await send(bob, direct["id"], "a word in private")
    await send(admin, direct["id"], "of course")
    r = await admin.post(f"/api/v1/users/{carol.id}/deactivate")
    assert r.status_code == 200, r.text
    return History(admin, bob, carol, cid, direct["id"], files)


@dataclass
class Export:
    manifest: dict[str, Any]
    records: list[dict[str, Any]]
    members: dict[str, bytes]  # every file in the zip

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r["type"] == kind]


def read_export(data: bytes) -> Export:
    """An export zip's contents, its manifest's checksums checked."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    manifest = orjson.loads(members["manifest.json"])
    assert manifest["format"] == "hallway-export" and manifest["version"] == 1
    assert set(manifest["files"]) == set(members) - {"manifest.json"}
    for name, expected in manifest["files"].items():
        content = members[name]
        assert expected == {"sha256": hashlib.sha256(content).hexdigest(), "size": len(content)}
    records = records_of(members["hallway.jsonl.gz"])
    return Export(manifest, records, members)


def records_of(compressed: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in gzip.decompress(compressed).splitlines()]


async def company_view(db_url: str, company_id: str) -> dict[str, Any]:
    """A company as names, bodies and bytes' hashes, without ids or seqs: two companies
    holding the same history look the same."""
    db = Database(db_url)
    try:
        async with db.read() as conn:
            in_company = t.users.c.company_id == company_id
            people = {r.id: r for r in await conn.execute(select(t.users).where(in_company))}
            name = {uid: p.display_name for uid, p in people.items()}
            conversations = list(
                await conn.execute(
                    select(t.conversations).where(t.conversations.c.company_id == company_id)
                )
            )
            view: dict[str, Any] = {
                "people": sorted(
                    (p.display_name, p.role, p.deactivated_at is not None, p.deleted_at is not None)
                    for p in people.values()
                ),
                "conversations": {},
            }
            for c in conversations:
                members = await conn.execute(
                    select(t.participants).where(t.participants.c.conversation_id == c.id)
                )
                messages = list(
                    await conn.execute(
                        select(t.messages)
                        .where(t.messages.c.conversation_id == c.id)
                        .order_by(t.messages.c.seq)
                    )
                )
                body = {m.id: m.body for m in messages}
                shown = []
                for m in messages:
                    edits = await conn.execute(
                        select(t.message_edits.c.old_body, t.message_edits.c.edited_at)
                        .where(t.message_edits.c.message_id == m.id)
                        .order_by(t.message_edits.c.edited_at)
                    )
                    reactions = await conn.execute(
                        select(t.reactions).where(t.reactions.c.message_id == m.id)
                    )
                    files = await conn.execute(
                        select(t.attachments).where(
                            t.attachments.c.message_id == m.id, t.attachments.c.deleted_at.is_(None)
                        )
                    )
                    shown.append(
                        {
                            "sender": name.get(m.sender_id),
                            "body": m.body,
                            "created_at": m.created_at,
                            "edited_at": m.edited_at,
                            "deleted": m.deleted_at is not None,
                            "thread": body.get(m.thread_root_id),
                            "edits": [tuple(e) for e in edits],
                            "reactions": sorted((name[r.user_id], r.emoji) for r in reactions),
                            "files": sorted((f.filename, f.sha256, f.size) for f in files),
                        }
                    )
                view["conversations"][(c.kind, c.title)] = {
                    "members": sorted((name[p.user_id], p.role, p.joined_at) for p in members),
                    "messages": shown,
                }
            return view
    finally:
        await db.dispose()
