"""Profiles: name, status, time zone and avatar; who may fetch an avatar; the live
`user.updated` frame."""

from __future__ import annotations

import io
from typing import Any

import pytest
from fastapi import FastAPI
from PIL import Image

from hallway.files.storage import ObjectMissing
from tests.files_support import jpeg_bytes, png_bytes, storage_of
from tests.support import (
    Directory,
    Person,
    ServerProcess,
    authenticated_socket,
    error_of,
    frames_of_types,
    named_fields,
    on_two_nodes,
)

pytestmark = pytest.mark.anyio

PROFILE = "/api/v1/me/profile"
AVATAR = "/api/v1/me/avatar"


async def directory_entry(person: Person, user_id: str) -> dict[str, Any]:
    users = (await person.get("/api/v1/users")).json()["users"]
    entry: dict[str, Any] = next(u for u in users if u["id"] == user_id)
    return entry


async def put_avatar(person: Person, content: bytes, name: str = "me.png") -> Any:
    return await person.put(AVATAR, files={"file": (name, content, "image/png")})


async def test_a_person_edits_their_profile(directory: Directory) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    fresh = await directory_entry(admin, bob.id)
    assert (fresh["status_text"], fresh["status_emoji"], fresh["time_zone"]) == (None, None, None)
    assert fresh["avatar_url"] is None

    r = await bob.patch(
        PROFILE,
        json={
            "display_name": " Robert ",
            "status_text": " On holiday ",
            "status_emoji": "🌴",
            "time_zone": "Europe/Paris",
        },
    )
    assert r.status_code == 200, r.text
    me = r.json()
    assert (me["display_name"], me["status_text"], me["status_emoji"], me["time_zone"]) == (
        "Robert",
        "On holiday",
        "🌴",
        "Europe/Paris",
    )
    assert await directory_entry(admin, bob.id) == {**me, "presence": "offline"}
    assert (await bob.get("/api/v1/me")).json() == me

    # Only the fields given change; "" and null clear.
    r = await bob.patch(PROFILE, json={"status_text": "", "time_zone": None})
    assert r.json()["status_text"] is None and r.json()["time_zone"] is None
    assert r.json()["status_emoji"] == "🌴" and r.json()["display_name"] == "Robert"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"status_text": "x" * 101}, "status_text"),
        ({"status_text": "a\u202eb"}, "status_text"),
        ({"status_emoji": "not one"}, "status_emoji"),
        ({"status_emoji": "👍👍"}, "status_emoji"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"time_zone": "../../etc/passwd"}, "time_zone"),
        ({"display_name": "  "}, "display_name"),
        ({"display_name": None}, "display_name"),
        ({"email": "x@example.com"}, "email"),
    ],
)
async def test_bad_profile_fields_change_nothing(
    directory: Directory, payload: dict[str, Any], field: str
) -> None:
    admin = await directory.company()
    before = (await admin.get("/api/v1/me")).json()
    r = await admin.patch(PROFILE, json={"status_text": "fine", **payload})
    assert named_fields(error_of(r, 422)) == {field}
    assert (await admin.get("/api/v1/me")).json() == before


async def test_an_avatar_is_thumbnailed_and_seen_only_by_the_company(
    directory: Directory, app: FastAPI
) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    r = await put_avatar(bob, jpeg_bytes(1200, 900))
    assert r.status_code == 200, r.text
    url = r.json()["avatar_url"]
    assert url and url.startswith(f"/api/v1/avatars/{bob.id}/1?")
    assert (await directory_entry(admin, bob.id))["avatar_url"] == url

    # Any client of the link gets it (an <img> sends no token): the signature is the fence.
    got = await directory.client.get(url)
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == "image/webp"
    image = Image.open(io.BytesIO(got.content))
    assert max(image.size) == 256 and image.format == "WEBP"
    assert not image.getexif()

    # Another company's link, or a tampered one, opens nothing.
    stranger = await directory.company("Other")
    error_of(await directory.client.get(url.replace(bob.company_id, stranger.company_id)), 403)
    error_of(await directory.client.get(url.replace(f"/{bob.id}/1", f"/{admin.id}/1")), 403)
    assert (await directory_entry(stranger, stranger.id))["id"] == stranger.id
    assert bob.id not in {u["id"] for u in (await stranger.get("/api/v1/users")).json()["users"]}

    # A new upload: a new link, and the old one answers 404; removing it too.
    second = await put_avatar(bob, png_bytes(40, 40))
    new_url = second.json()["avatar_url"]
    assert new_url != url and f"/{bob.id}/2?" in new_url
    error_of(await directory.client.get(url), 404)
    assert (await directory.client.get(new_url)).status_code == 200
    removed = await bob.delete(AVATAR)
    assert removed.status_code == 200 and removed.json()["avatar_url"] is None
    error_of(await directory.client.get(new_url), 404)
    storage = storage_of(app)
    for version in (1, 2):
        with pytest.raises(ObjectMissing):
            await storage.size(f"{bob.company_id}/avatars/{bob.id}/{version}")


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b"just text, not an image", 415, "not_an_image"),
        (b"", 422, "empty_file"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, 415, "not_an_image"),
    ],
)
async def test_an_avatar_must_be_an_image(
    directory: Directory, content: bytes, status: int, code: str
) -> None:
    admin = await directory.company()
    error_of(await put_avatar(admin, content), status, code)
    assert (await admin.get("/api/v1/me")).json()["avatar_url"] is None


async def test_an_avatar_upload_needs_multipart(directory: Directory) -> None:
    admin = await directory.company()
    headers = {**admin.headers, "content-type": "image/png"}
    r = await admin.client.put(AVATAR, content=png_bytes(), headers=headers)
    error_of(r, 415, "multipart_required")


async def test_a_deleted_account_keeps_no_profile(directory: Directory, app: FastAPI) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    await bob.patch(PROFILE, json={"status_text": "here", "time_zone": "Asia/Tokyo"})
    url = (await put_avatar(bob, png_bytes())).json()["avatar_url"]
    r = await admin.delete(f"/api/v1/users/{bob.id}")
    assert r.status_code == 200, r.text
    gone = await directory_entry(admin, bob.id)
    assert (gone["status_text"], gone["time_zone"], gone["avatar_url"]) == (None, None, None)
    error_of(await directory.client.get(url), 404)
    with pytest.raises(ObjectMissing):
        await storage_of(app).size(f"{bob.company_id}/avatars/{bob.id}/1")


# --- live, over real sockets ---------------------------------------------------------------


async def test_a_profile_change_reaches_the_company_live(
    live: Directory, server: ServerProcess
) -> None:
    admin = await live.company()
    bob = await live.colleague(admin, "Bob")
    stranger = await live.company("Other")
    ws = await authenticated_socket(server, admin)
    outsider = await authenticated_socket(server, stranger)
    try:
        await bob.patch(PROFILE, json={"status_text": "In a meeting", "status_emoji": "📅"})
        (frame,) = await frames_of_types(ws, ["user.updated"], 1)
        assert frame["user"]["id"] == bob.id
        assert frame["user"]["status_text"] == "In a meeting"
        r = await put_avatar(bob, png_bytes())
        (frame,) = await frames_of_types(ws, ["user.updated"], 1)
        assert frame["user"]["avatar_url"] == r.json()["avatar_url"]
        # Another company hears nothing: its next frame is its own colleague's change.
        await stranger.patch(PROFILE, json={"status_text": "mine"})
        (own,) = await frames_of_types(outsider, ["user.updated"], 1)
        assert own["user"]["id"] == stranger.id
    finally:
        await ws.close()
        await outsider.close()


@on_two_nodes
async def test_a_profile_change_crosses_nodes(
    two_nodes: tuple[ServerProcess, ServerProcess, Directory],
) -> None:
    node_a, _node_b, directory = two_nodes
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    ws = await authenticated_socket(node_a, admin)
    try:
        # Changed through node B (the directory's): announced on node A through Redis.
        await bob.patch(PROFILE, json={"time_zone": "America/New_York"})
        (frame,) = await frames_of_types(ws, ["user.updated"], 1)
        assert (frame["user"]["id"], frame["user"]["time_zone"]) == (bob.id, "America/New_York")
    finally:
        await ws.close()
