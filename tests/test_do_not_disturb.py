""" "Do not disturb" as colleagues see it: on the person in the directory while it lasts,
and announced live as `user.updated` when it changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hallway.domain.user_views import shown_dnd_until
from tests.support import Directory, Person, ServerProcess, authenticated_socket, frames_of_types
from tests.test_profiles import directory_entry

pytestmark = pytest.mark.anyio

SETTINGS = "/api/v1/me/notifications"


def _in(hours: float) -> datetime:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0)


async def _set(person: Person, body: dict[str, Any]) -> None:
    r = await person.patch(SETTINGS, json=body)
    assert r.status_code == 200, r.text


def _shown(entry: dict[str, Any]) -> datetime | None:
    value = entry["dnd_until"]
    return None if value is None else datetime.fromisoformat(value)


def test_only_an_end_still_to_come_is_shown() -> None:
    assert shown_dnd_until(_in(1)) == _in(1)
    assert shown_dnd_until(_in(-1)) is None
    assert shown_dnd_until(None) is None


async def test_colleagues_see_do_not_disturb_while_it_is_on(directory: Directory) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    assert (await directory_entry(admin, bob.id))["dnd_until"] is None
    until = _in(2)
    await _set(bob, {"dnd_until": until.isoformat()})
    assert _shown(await directory_entry(admin, bob.id)) == until
    assert _shown(await directory_entry(bob, bob.id)) == until
    await _set(bob, {"dnd_until": None})
    assert (await directory_entry(admin, bob.id))["dnd_until"] is None
    # A time already past turns it off.
    await _set(bob, {"dnd_until": until.isoformat()})
    await _set(bob, {"dnd_until": "2020-01-01T00:00:00Z"})
    assert (await directory_entry(admin, bob.id))["dnd_until"] is None
    # A deleted account shows none, whatever was set.
    await _set(bob, {"dnd_until": until.isoformat()})
    r = await admin.delete(f"/api/v1/users/{bob.id}")
    assert r.status_code == 200, r.text
    assert r.json()["dnd_until"] is None
    assert (await directory_entry(admin, bob.id))["dnd_until"] is None


# --- live, over real sockets ---------------------------------------------------------------


async def test_a_do_not_disturb_change_reaches_the_company_live(
    live: Directory, server: ServerProcess
) -> None:
    admin = await live.company()
    bob = await live.colleague(admin, "Bob")
    ws = await authenticated_socket(server, admin)
    try:
        until = _in(1)
        await _set(bob, {"dnd_until": until.isoformat()})
        (frame,) = await frames_of_types(ws, ["user.updated"], 1)
        assert frame["user"]["id"] == bob.id
        assert datetime.fromisoformat(frame["user"]["dnd_until"]) == until
        # The level alone, nothing at all, or the same end again: colleagues see no change,
        # so no frame; the next one is for turning it off.
        await _set(bob, {"level": "all"})
        await _set(bob, {})
        await _set(bob, {"dnd_until": until.isoformat(), "level": "nothing"})
        await _set(bob, {"dnd_until": None})
        (frame,) = await frames_of_types(ws, ["user.updated"], 1)
        assert (frame["user"]["id"], frame["user"]["dnd_until"]) == (bob.id, None)
        # Off again, or a time already past: still off, no frame; the next is a profile's.
        await _set(bob, {"dnd_until": None})
        await _set(bob, {"dnd_until": "2020-01-01T00:00:00Z"})
        await bob.patch("/api/v1/me/profile", json={"status_text": "Back"})
        (frame,) = await frames_of_types(ws, ["user.updated"], 1)
        assert (frame["user"]["status_text"], frame["user"]["dnd_until"]) == ("Back", None)
    finally:
        await ws.close()
