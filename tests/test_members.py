"""Membership: adding people, leaving, removing others, and who may do which."""

from __future__ import annotations

from typing import Any

import pytest

from hallway.config import Settings
from tests.support import Directory, Person, company_rows, error_of, named_fields, send

pytestmark = pytest.mark.anyio


def members_url(conversation: dict[str, Any], user_id: str | None = None) -> str:
    url = f"/api/v1/conversations/{conversation['id']}/members"
    return f"{url}/{user_id}" if user_id else url


async def member_ids(person: Person, conversation: dict[str, Any]) -> set[str]:
    r = await person.get(f"/api/v1/conversations/{conversation['id']}")
    assert r.status_code == 200, r.text
    return {m["user_id"] for m in r.json()["members"]}


async def last_event(person: Person, conversation: dict[str, Any]) -> dict[str, Any]:
    r = await person.get(f"/api/v1/conversations/{conversation['id']}/events")
    event: dict[str, Any] = r.json()["events"][-1]
    return event


async def test_a_member_adds_colleagues_to_a_group(directory: Directory) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    carol = await directory.colleague(admin, "Carol")
    dave = await directory.colleague(admin, "Dave")
    group = await directory.conversation(admin, "group", [bob], "Plans")
    await send(bob, group["id"], "before carol")

    r = await bob.post(members_url(group), json={"user_ids": [carol.id, dave.id, bob.id]})
    assert r.status_code == 200, r.text
    assert {m["user_id"] for m in r.json()["members"]} == {admin.id, bob.id, carol.id, dave.id}
    event = await last_event(admin, group)
    assert event["kind"] == "member.added"
    assert event["data"]["user_ids"] == sorted([carol.id, dave.id])
    assert event["data"]["added_by"] == bob.id
    # Newcomers start with nothing unread.
    carol_list = (await carol.get("/api/v1/conversations")).json()["conversations"]
    assert carol_list[0]["unread_count"] == 0

    # Adding people who are already members changes nothing and logs nothing.
    again = await bob.post(members_url(group), json={"user_ids": [carol.id]})
    assert again.status_code == 200
    assert again.json()["last_seq"] == r.json()["last_seq"]


async def test_adding_needs_colleagues_and_someone(
    directory: Directory, settings: Settings
) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    stranger = await directory.company("Other")
    group = await directory.conversation(admin, "group", [bob], "Plans")
    before = await company_rows(settings.effective_migration_database_url, [admin.company_id])

    r = await admin.post(members_url(group), json={"user_ids": [stranger.id]})
    error = error_of(r, 422, "unknown_users")
    assert named_fields(error) == {"user_ids"}
    assert error["details"]["user_ids"] == [stranger.id]
    r = await admin.post(members_url(group), json={"user_ids": []})
    assert named_fields(error_of(r, 422)) == {"user_ids"}
    assert (
        await company_rows(settings.effective_migration_database_url, [admin.company_id]) == before
    )


async def test_direct_members_are_fixed(directory: Directory) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    carol = await directory.colleague(admin, "Carol")
    direct = await directory.conversation(admin, "direct", [bob])
    r = await admin.post(members_url(direct), json={"user_ids": [carol.id]})
    error_of(r, 422, "direct_members_fixed")
    error_of(await bob.delete(members_url(direct, bob.id)), 422, "direct_members_fixed")
    error_of(await admin.delete(members_url(direct, bob.id)), 422, "direct_members_fixed")
    assert await member_ids(admin, direct) == {admin.id, bob.id}


async def test_leaving_logs_member_removed_and_hides_the_conversation(
    directory: Directory,
) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    group = await directory.conversation(admin, "group", [bob], "Plans")
    message = await send(admin, group["id"], "hi bob")

    r = await bob.delete(members_url(group, bob.id))
    assert r.status_code == 204
    assert r.content == b""
    event = await last_event(admin, group)
    assert (event["kind"], event["data"]) == (
        "member.removed",
        {"user_id": bob.id, "removed_by": bob.id},
    )
    assert await member_ids(admin, group) == {admin.id}
    # Gone means gone: every route answers 404 now.
    for response in (
        await bob.get(f"/api/v1/conversations/{group['id']}"),
        await bob.get(f"/api/v1/conversations/{group['id']}/messages"),
        await bob.get(f"/api/v1/conversations/{group['id']}/events"),
        await bob.get(f"/api/v1/messages/{message['id']}/thread"),
        await bob.post(f"/api/v1/conversations/{group['id']}/messages", json={"body": "x"}),
    ):
        error_of(response, 404, "not_found")
    assert (await bob.get("/api/v1/conversations")).json()["conversations"] == []


async def test_owner_and_admin_remove_others_members_may_not(directory: Directory) -> None:
    admin = await directory.company()
    owner = await directory.colleague(admin, "Owner")
    bob = await directory.colleague(admin, "Bob")
    carol = await directory.colleague(admin, "Carol")
    group = await directory.conversation(owner, "group", [admin, bob, carol], "Plans")

    r = await bob.delete(members_url(group, carol.id))
    error_of(r, 403, "not_owner")
    assert carol.id in await member_ids(owner, group)

    assert (await owner.delete(members_url(group, carol.id))).status_code == 204
    assert (await admin.delete(members_url(group, bob.id))).status_code == 204
    assert await member_ids(owner, group) == {owner.id, admin.id}
    event = await last_event(owner, group)
    assert event["data"] == {"user_id": bob.id, "removed_by": admin.id}
    # The removed get 404 from then on.
    error_of(await bob.get(f"/api/v1/conversations/{group['id']}"), 404)
    error_of(await carol.get(f"/api/v1/conversations/{group['id']}"), 404)


async def test_an_admin_outside_the_conversation_cannot_remove_anyone(
    directory: Directory,
) -> None:
    admin = await directory.company()
    owner = await directory.colleague(admin, "Owner")
    bob = await directory.colleague(admin, "Bob")
    group = await directory.conversation(owner, "group", [bob], "Private")
    error_of(await admin.delete(members_url(group, bob.id)), 404, "not_found")
    assert await member_ids(owner, group) == {owner.id, bob.id}


async def test_removing_a_non_member_is_404(directory: Directory) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    carol = await directory.colleague(admin, "Carol")
    group = await directory.conversation(admin, "group", [bob], "Plans")
    before = (await admin.get(f"/api/v1/conversations/{group['id']}")).json()["last_seq"]
    error_of(await admin.delete(members_url(group, carol.id)), 404, "not_found")
    error_of(await admin.delete(members_url(group, "no-such-user")), 404, "not_found")
    after = (await admin.get(f"/api/v1/conversations/{group['id']}")).json()["last_seq"]
    assert after == before


async def test_leaving_a_channel_and_joining_again(directory: Directory) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    channel = await directory.conversation(admin, "channel", [bob], "general")
    assert (await bob.delete(members_url(channel, bob.id))).status_code == 204
    error_of(await bob.get(f"/api/v1/conversations/{channel['id']}"), 404)
    channels = (await bob.get("/api/v1/channels")).json()["channels"]
    assert [(c["id"], c["joined"]) for c in channels] == [(channel["id"], False)]
    r = await bob.post(members_url(channel), json={"user_ids": [bob.id]})
    assert r.status_code == 200, r.text
    assert (await bob.get(f"/api/v1/conversations/{channel['id']}")).status_code == 200


async def test_a_group_member_adding_only_themselves_changes_nothing(
    directory: Directory,
) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    group = await directory.conversation(admin, "group", [bob], "Plans")
    r = await bob.post(members_url(group), json={"user_ids": [bob.id]})
    assert r.status_code == 200, r.text
    assert r.json()["last_seq"] == group["last_seq"]


async def test_nobody_joins_a_private_group_by_adding_themselves(directory: Directory) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    carol = await directory.colleague(admin, "Carol")
    group = await directory.conversation(admin, "group", [bob], "Private")
    error_of(await carol.post(members_url(group), json={"user_ids": [carol.id]}), 404)
    assert await member_ids(admin, group) == {admin.id, bob.id}
