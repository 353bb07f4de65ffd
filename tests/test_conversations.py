"""Conversations: creating each kind, listing mine by activity, renaming, the channel list."""

from __future__ import annotations

from typing import Any

import pytest

from hallway.config import Settings
from tests.support import Directory, Person, company_rows, error_of, named_fields, send

pytestmark = pytest.mark.anyio

CONVERSATION_KEYS = {
    "id",
    "kind",
    "title",
    "created_by",
    "created_at",
    "last_seq",
    "last_activity_at",
    "last_read_seq",
    "topic",
    "archived_at",
    "members",
}


async def create(owner: Person, **body: Any) -> Any:
    return await owner.post("/api/v1/conversations", json=body)


# --- direct ---------------------------------------------------------------------------------


async def test_direct_is_created_once_per_pair(directory: Directory) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    first = await create(admin, kind="direct", member_ids=[bob.id])
    assert first.status_code == 201, first.text
    view = first.json()
    assert set(view) == CONVERSATION_KEYS
    assert view["kind"] == "direct"
    assert view["title"] is None
    assert view["last_seq"] == 1  # its own member.added event
    assert {m["user_id"] for m in view["members"]} == {admin.id, bob.id}
    assert {m["role"] for m in view["members"]} == {"member"}

    again = await create(admin, kind="direct", member_ids=[bob.id])
    assert again.status_code == 200
    assert again.json()["id"] == view["id"]
    # The other person opening the pair gets the same conversation.
    reverse = await create(bob, kind="direct", member_ids=[admin.id, bob.id])
    assert reverse.status_code == 200
    assert reverse.json()["id"] == view["id"]
    listed = await bob.get("/api/v1/conversations")
    assert [c["id"] for c in listed.json()["conversations"]] == [view["id"]]


@pytest.mark.parametrize("others", [0, 2], ids=["nobody", "two-people"])
async def test_direct_needs_exactly_one_other_person(directory: Directory, others: int) -> None:
    admin = await directory.company()
    people = [await directory.colleague(admin, f"P{i}") for i in range(others)]
    r = await create(admin, kind="direct", member_ids=[admin.id] + [p.id for p in people])
    assert named_fields(error_of(r, 422)) == {"member_ids"}


async def test_direct_has_no_title(directory: Directory) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    r = await create(admin, kind="direct", member_ids=[bob.id], title="Our chat")
    assert named_fields(error_of(r, 422)) == {"title"}


# --- groups and channels --------------------------------------------------------------------


async def test_group_makes_the_creator_owner(directory: Directory) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    carol = await directory.colleague(admin, "Carol")
    r = await create(admin, kind="group", member_ids=[bob.id, carol.id, bob.id], title="  Plans ")
    assert r.status_code == 201, r.text
    view = r.json()
    assert view["title"] == "Plans"
    roles = {m["user_id"]: m["role"] for m in view["members"]}
    assert roles == {admin.id: "owner", bob.id: "member", carol.id: "member"}
    untitled = await create(admin, kind="group", member_ids=[bob.id])
    assert untitled.status_code == 201
    assert untitled.json()["title"] is None
    # Groups are not idempotent: each create is a new conversation.
    assert untitled.json()["id"] != view["id"]


async def test_group_needs_someone_else(directory: Directory) -> None:
    admin = await directory.company()
    r = await create(admin, kind="group", member_ids=[admin.id], title="Alone")
    assert named_fields(error_of(r, 422)) == {"member_ids"}


async def test_channel_needs_a_title_and_may_start_alone(directory: Directory) -> None:
    admin = await directory.company()
    for title in (None, "   "):
        r = await create(admin, kind="channel", member_ids=[], title=title)
        assert named_fields(error_of(r, 422)) == {"title"}
    r = await create(admin, kind="channel", member_ids=[], title="general")
    assert r.status_code == 201
    assert [m["user_id"] for m in r.json()["members"]] == [admin.id]


async def test_title_length_is_limited(directory: Directory, settings: Settings) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    too_long = "x" * (settings.max_title_chars + 1)
    r = await create(admin, kind="group", member_ids=[bob.id], title=too_long)
    assert named_fields(error_of(r, 422)) == {"title"}
    ok = await create(admin, kind="group", member_ids=[bob.id], title=too_long[:-1])
    assert ok.status_code == 201


async def test_unknown_kind_is_refused(directory: Directory) -> None:
    admin = await directory.company()
    r = await create(admin, kind="forum", member_ids=[], title="x")
    assert named_fields(error_of(r, 422, "validation_error")) == {"kind"}


async def test_members_must_be_colleagues(directory: Directory, settings: Settings) -> None:
    admin = await directory.company("Acme")
    bob = await directory.colleague(admin, "Bob")
    stranger = await directory.company("Other")
    for kind in ("direct", "group", "channel"):
        ids = [stranger.id] if kind == "direct" else [bob.id, stranger.id, "no-such-user"]
        r = await create(admin, kind=kind, member_ids=ids, title=None if kind == "direct" else "t")
        error = error_of(r, 422, "unknown_users")
        assert named_fields(error) == {"member_ids"}
        assert bob.id not in error["details"]["user_ids"]
        assert stranger.id in error["details"]["user_ids"]
    rows = await company_rows(settings.effective_migration_database_url, [admin.company_id])
    assert rows["conversations"] == []
    assert rows["events"] == []


# --- reading and listing --------------------------------------------------------------------


async def test_get_one_conversation(directory: Directory) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    group = await directory.conversation(admin, "group", [bob], "Plans")
    r = await bob.get(f"/api/v1/conversations/{group['id']}")
    assert r.status_code == 200
    assert r.json()["id"] == group["id"]
    assert r.json()["title"] == "Plans"
    assert r.json()["last_read_seq"] == 0


async def test_list_is_ordered_by_last_activity_with_unread_and_last_message(
    directory: Directory,
) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    carol = await directory.colleague(admin, "Carol")
    a = await directory.conversation(admin, "group", [bob], "A")
    b = await directory.conversation(admin, "direct", [carol])
    c = await directory.conversation(admin, "channel", [bob, carol], "C")

    listed = (await admin.get("/api/v1/conversations")).json()
    assert [x["id"] for x in listed["conversations"]] == [c["id"], b["id"], a["id"]]
    assert all(x["unread_count"] == 0 for x in listed["conversations"])
    assert all(x["last_message"] is None for x in listed["conversations"])
    assert listed["has_more"] is False
    assert listed["next_cursor"] is None

    await send(bob, a["id"], "first in A")
    await send(bob, a["id"], "second in A")
    await send(admin, b["id"], "mine in B")
    listed = (await admin.get("/api/v1/conversations")).json()["conversations"]
    assert [x["id"] for x in listed] == [b["id"], a["id"], c["id"]]
    by_id = {x["id"]: x for x in listed}
    assert by_id[a["id"]]["unread_count"] == 2
    assert by_id[a["id"]]["last_message"]["body"] == "second in A"
    # One's own messages are never unread.
    assert by_id[b["id"]]["unread_count"] == 0
    assert by_id[b["id"]]["last_message"]["body"] == "mine in B"

    carol_sees = (await carol.get("/api/v1/conversations")).json()["conversations"]
    assert [x["id"] for x in carol_sees] == [b["id"], c["id"]]
    assert {x["id"]: x["unread_count"] for x in carol_sees} == {b["id"]: 1, c["id"]: 0}


async def test_list_pages_with_a_cursor(directory: Directory) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    created = [
        (await directory.conversation(admin, "group", [bob], f"G{i}"))["id"] for i in range(7)
    ]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await admin.get("/api/v1/conversations", params=params)).json()
        assert len(page["conversations"]) <= 3
        seen += [x["id"] for x in page["conversations"]]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
    assert seen == list(reversed(created))


@pytest.mark.parametrize("cursor", ["!!!", "bm90LWEtY3Vyc29y", "MjAyNi0wMS0wMXxh"])
async def test_list_refuses_a_forged_cursor(directory: Directory, cursor: str) -> None:
    admin = await directory.company()
    r = await admin.get("/api/v1/conversations", params={"cursor": cursor})
    assert named_fields(error_of(r, 422, "invalid_cursor")) == {"cursor"}


@pytest.mark.parametrize("limit", [0, 201])
async def test_list_limit_is_bounded(directory: Directory, limit: int) -> None:
    admin = await directory.company()
    r = await admin.get("/api/v1/conversations", params={"limit": limit})
    assert named_fields(error_of(r, 422)) == {"limit"}


# --- renaming -------------------------------------------------------------------------------


async def events_of(person: Person, conversation_id: str) -> list[dict[str, Any]]:
    r = await person.get(f"/api/v1/conversations/{conversation_id}/events")
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["events"]
    return found


async def test_rename_logs_conversation_updated(directory: Directory) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    group = await directory.conversation(admin, "group", [bob], "Old")
    r = await bob.patch(f"/api/v1/conversations/{group['id']}", json={"title": "New"})
    assert r.status_code == 200, r.text
    assert r.json()["title"] == "New"
    assert r.json()["last_seq"] == 2
    kinds = [(e["seq"], e["kind"]) for e in await events_of(admin, group["id"])]
    assert kinds == [(1, "member.added"), (2, "conversation.updated")]
    assert (await events_of(admin, group["id"]))[-1]["data"]["title"] == "New"
    # The same title again changes nothing and logs nothing.
    same = await bob.patch(f"/api/v1/conversations/{group['id']}", json={"title": "New"})
    assert same.status_code == 200
    assert len(await events_of(admin, group["id"])) == 2
    # A group may drop its title; a channel may not.
    cleared = await bob.patch(f"/api/v1/conversations/{group['id']}", json={"title": None})
    assert cleared.json()["title"] is None


async def test_rename_refusals(directory: Directory) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    direct = await directory.conversation(admin, "direct", [bob])
    channel = await directory.conversation(admin, "channel", [bob], "general")
    r = await admin.patch(f"/api/v1/conversations/{direct['id']}", json={"title": "Hi"})
    assert named_fields(error_of(r, 422)) == {"title"}
    r = await admin.patch(f"/api/v1/conversations/{channel['id']}", json={"title": None})
    assert named_fields(error_of(r, 422)) == {"title"}
    r = await admin.patch(f"/api/v1/conversations/{channel['id']}", json={"name": "x"})
    assert "name" in named_fields(error_of(r, 422, "validation_error"))
    assert len(await events_of(admin, channel["id"])) == 1


# --- channels -------------------------------------------------------------------------------


async def test_channel_names_are_unique_in_a_company_ignoring_case(
    directory: Directory,
) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    general = await directory.conversation(admin, "channel", [], "General")
    for taken in ("general", "GENERAL", " General "):
        r = await create(bob, kind="channel", member_ids=[], title=taken)
        error = error_of(r, 409, "channel_name_taken")
        assert error["details"]["field"] == "title"
    # Groups may share names with each other and with channels; other companies are apart.
    for _ in range(2):
        assert (await create(admin, kind="group", member_ids=[bob.id], title="General")).is_success
    elsewhere = await directory.company("Elsewhere")
    assert (await create(elsewhere, kind="channel", member_ids=[], title="general")).is_success
    # Renaming onto a taken name is refused and changes nothing; a channel may change the
    # case of its own name.
    random = await directory.conversation(admin, "channel", [], "random")
    r = await admin.patch(f"/api/v1/conversations/{random['id']}", json={"title": "GENERAL"})
    error_of(r, 409, "channel_name_taken")
    assert (await admin.get(f"/api/v1/conversations/{random['id']}")).json()["title"] == "random"
    assert len(await events_of(admin, random["id"])) == 1
    r = await admin.patch(f"/api/v1/conversations/{general['id']}", json={"title": "GENERAL"})
    assert r.json()["title"] == "GENERAL"
    # A freed name can be taken again.
    await admin.patch(f"/api/v1/conversations/{general['id']}", json={"title": "announcements"})
    assert (await create(bob, kind="channel", member_ids=[], title="general")).is_success
    names = [c["title"] for c in (await bob.get("/api/v1/channels")).json()["channels"]]
    assert sorted(names) == ["announcements", "general", "random"]


async def test_channel_list_shows_every_company_channel(directory: Directory) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    general = await directory.conversation(admin, "channel", [bob], "general")
    random = await directory.conversation(admin, "channel", [], "random")
    await directory.conversation(admin, "group", [bob], "private")
    other = await directory.company("Other")
    await directory.conversation(other, "channel", [], "theirs")

    channels = (await bob.get("/api/v1/channels")).json()["channels"]
    assert [(c["id"], c["joined"], c["member_count"]) for c in channels] == [
        (general["id"], True, 2),
        (random["id"], False, 1),
    ]


async def test_joining_a_channel_by_adding_yourself(directory: Directory) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    channel = await directory.conversation(admin, "channel", [], "random")
    await send(admin, channel["id"], "before bob came")
    r = await bob.post(
        f"/api/v1/conversations/{channel['id']}/members", json={"user_ids": [bob.id]}
    )
    assert r.status_code == 200, r.text
    assert bob.id in {m["user_id"] for m in r.json()["members"]}
    mine = (await bob.get("/api/v1/conversations")).json()["conversations"]
    assert [c["id"] for c in mine] == [channel["id"]]
    # A newcomer sees the history but no backlog of unread messages.
    assert mine[0]["unread_count"] == 0
    history = (await bob.get(f"/api/v1/conversations/{channel['id']}/messages")).json()
    assert [m["body"] for m in history["messages"]] == ["before bob came"]
    last = (await events_of(bob, channel["id"]))[-1]
    assert last["kind"] == "member.added"
    assert last["data"]["user_ids"] == [bob.id]
