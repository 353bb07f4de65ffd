"""Notification settings: a person's level and "do not disturb", a member's level and mute
per conversation (validated, fenced to members), and the rule should_notify applies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hallway.domain.notification_settings import PersonSettings, should_notify
from tests.support import Directory, Person, error_of, send

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
ME = "me"


def _message(**fields: Any) -> dict[str, Any]:
    return {
        "sender_id": "other",
        "deleted_at": None,
        "mentions": [],
        "mention_kind": None,
        **fields,
    }


def _conversation(**fields: Any) -> dict[str, Any]:
    return {"kind": "group", "notify_level": None, "muted": False, **fields}


@pytest.mark.parametrize(
    ("message", "settings", "conversation", "expected"),
    [
        # The default level, mentions: mentions, broadcasts and direct messages.
        (_message(), PersonSettings(), _conversation(), False),
        (_message(mentions=[ME]), PersonSettings(), _conversation(), True),
        (_message(mentions=["someone"]), PersonSettings(), _conversation(), False),
        (_message(mention_kind="here"), PersonSettings(), _conversation(), True),
        (_message(mention_kind="channel"), PersonSettings(), _conversation(), True),
        (_message(), PersonSettings(), _conversation(kind="direct"), True),
        # all and nothing, the person's or the conversation's, which wins.
        (_message(), PersonSettings("all"), _conversation(), True),
        (_message(mentions=[ME]), PersonSettings("nothing"), _conversation(), False),
        (_message(), PersonSettings("nothing"), _conversation(notify_level="all"), True),
        (
            _message(mentions=[ME]),
            PersonSettings("all"),
            _conversation(notify_level="nothing"),
            False,
        ),
        # Muted, do not disturb, one's own and deleted messages: never.
        (_message(mentions=[ME]), PersonSettings("all"), _conversation(muted=True), False),
        (
            _message(mentions=[ME]),
            PersonSettings("all", NOW + timedelta(minutes=1)),
            _conversation(kind="direct"),
            False,
        ),
        (_message(), PersonSettings("all", NOW - timedelta(minutes=1)), _conversation(), True),
        (_message(sender_id=ME), PersonSettings("all"), _conversation(), False),
        (_message(deleted_at=NOW), PersonSettings("all"), _conversation(), False),
    ],
)
def test_should_notify(
    message: dict[str, Any],
    settings: PersonSettings,
    conversation: dict[str, Any],
    expected: bool,
) -> None:
    assert should_notify(message, ME, settings, conversation, now=NOW) is expected


async def _mine(person: Person) -> dict[str, Any]:
    r = await person.get("/api/v1/me/notifications")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def _item(person: Person, cid: str) -> dict[str, Any]:
    r = await person.get("/api/v1/conversations")
    assert r.status_code == 200, r.text
    [item] = [c for c in r.json()["conversations"] if c["id"] == cid]
    return dict(item)


async def test_a_person_sets_their_level_and_do_not_disturb(directory: Directory) -> None:
    admin, bob, _ = await directory.team()
    assert await _mine(admin) == {"level": "mentions", "dnd_until": None}
    r = await admin.patch("/api/v1/me/notifications", json={"level": "all"})
    assert r.status_code == 200, r.text
    assert r.json() == {"level": "all", "dnd_until": None}
    until = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    r = await admin.patch("/api/v1/me/notifications", json={"dnd_until": until.isoformat()})
    assert r.status_code == 200, r.text
    got = await _mine(admin)
    assert got["level"] == "all"
    assert datetime.fromisoformat(got["dnd_until"]) == until
    r = await admin.patch("/api/v1/me/notifications", json={"dnd_until": None})
    assert r.json() == {"level": "all", "dnd_until": None}
    # A time already past is "off", however far back.
    for past in ("2020-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00"):
        r = await admin.patch("/api/v1/me/notifications", json={"dnd_until": past})
        assert r.status_code == 200, r.text
        assert r.json() == {"level": "all", "dnd_until": None}
    assert await _mine(bob) == {"level": "mentions", "dnd_until": None}


@pytest.mark.parametrize(
    "body",
    [
        {"level": "loud"},
        {"level": None},
        {"level": 1},
        {"dnd_until": "tomorrow"},
        {"dnd_until": "2026-12-07T12:00:00"},
        {"dnd_until": "2999-01-01T00:00:00Z"},
        {"sound": "on"},
    ],
)
async def test_bad_personal_settings_are_refused_and_change_nothing(
    directory: Directory, body: dict[str, Any]
) -> None:
    admin = await directory.company()
    r = await admin.patch("/api/v1/me/notifications", json=body)
    error_of(r, 422)
    assert await _mine(admin) == {"level": "mentions", "dnd_until": None}


async def test_a_member_mutes_and_sets_a_level_for_one_conversation(
    directory: Directory,
) -> None:
    admin, bob, conversation = await directory.team()
    cid = conversation["id"]
    url = f"/api/v1/conversations/{cid}/notifications"
    r = await bob.patch(url, json={"muted": True})
    assert r.status_code == 200, r.text
    assert r.json() == {"conversation_id": cid, "notify_level": None, "muted": True}
    r = await bob.patch(url, json={"notify_level": "all"})
    assert r.json() == {"conversation_id": cid, "notify_level": "all", "muted": True}
    await send(admin, cid, "counted while muted")
    item = await _item(bob, cid)
    assert (item["notify_level"], item["muted"], item["unread_count"]) == ("all", True, 1)
    # The admin's settings for the same conversation are theirs alone.
    mine = await _item(admin, cid)
    assert (mine["notify_level"], mine["muted"]) == (None, False)
    r = await bob.patch(url, json={"notify_level": None, "muted": False})
    assert r.json() == {"conversation_id": cid, "notify_level": None, "muted": False}


async def test_conversation_settings_are_for_members_and_validated(directory: Directory) -> None:
    admin, bob, conversation = await directory.team()
    outsider = await directory.colleague(admin, "Outsider")
    cid = conversation["id"]
    url = f"/api/v1/conversations/{cid}/notifications"
    error_of(await outsider.patch(url, json={"muted": True}), 404)
    error_of(await bob.patch("/api/v1/conversations/nope/notifications", json={}), 404)
    for body in ({"muted": "yes"}, {"notify_level": "loud"}, {"colour": "red"}):
        error_of(await bob.patch(url, json=body), 422)
    item = await _item(bob, cid)
    assert (item["notify_level"], item["muted"]) == (None, False)
