"""Deleting an account, one's own or (admins) a colleague's: the person is locked out for
good and anonymised, leaves their groups and channels, and their messages stay under
"former member" unless the deletion erases them too."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from hallway.config import Settings
from hallway.domain import accounts
from hallway.domain.actor import Actor
from hallway.domain.tokens import issue_access_token
from hallway.store.tables import sessions
from hallway.store.types import utcnow
from tests.support import (
    Directory,
    Person,
    ServerProcess,
    authenticated_socket,
    company_rows,
    error_of,
    on_two_nodes,
    running_app,
    send,
    settings_from_env,
    unique_email,
)
from tests.test_accounts import IDP_SECRET, bearer, idp_token
from tests.test_sessions import PASSWORD, _closed, _refresh
from tests.test_signup import signup_body

pytestmark = pytest.mark.anyio


async def delete_me(person: Person, **body: Any) -> httpx.Response:
    return await person.client.request(
        "DELETE", "/api/v1/me", json={"password": PASSWORD, **body}, headers=person.headers
    )


async def delete_person(admin: Person, user_id: str, **body: Any) -> httpx.Response:
    return await admin.client.request(
        "DELETE", f"/api/v1/users/{user_id}", json=body, headers=admin.headers
    )


async def listed(viewer: Person, user_id: str) -> dict[str, Any]:
    people = (await viewer.get("/api/v1/users")).json()["users"]
    person: dict[str, Any] = next(p for p in people if p["id"] == user_id)
    return person


async def log_events(viewer: Person, cid: str) -> list[dict[str, Any]]:
    r = await viewer.get(f"/api/v1/conversations/{cid}/events", params={"after_seq": 0})
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["events"]
    assert [e["seq"] for e in found] == list(range(1, len(found) + 1))  # no gaps
    return found


async def history(viewer: Person, cid: str) -> list[dict[str, Any]]:
    r = await viewer.get(f"/api/v1/conversations/{cid}/messages", params={"limit": 100})
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["messages"]
    return found


async def test_deleting_my_account_keeps_my_messages_under_former_member(
    directory: Directory,
) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    group = await directory.conversation(admin, "group", [bob], title="plans")
    direct = await directory.conversation(admin, "direct", [bob])
    said = await send(bob, group["id"], "bob's words stay")
    await send(bob, direct["id"], "just between us")
    r = await admin.put(f"/api/v1/messages/{said['id']}/reactions/👍")
    assert r.status_code == 204
    r = await bob.put(f"/api/v1/messages/{said['id']}/reactions/🎉")
    assert r.status_code == 204

    assert (await delete_me(bob)).status_code == 204

    # Locked out: the session, its refresh token, the password, all gone.
    error_of(await bob.get("/api/v1/me"), 401, "session_revoked")
    error_of(await _refresh(directory.client, bob.refresh_token), 401, "session_revoked")
    login = await directory.client.post(
        "/api/v1/auth/login", json={"email": bob.email, "password": PASSWORD}
    )
    error_of(login, 401, "invalid_credentials")

    # The directory still names him, so that his messages have a name: "former member".
    gone = await listed(admin, bob.id)
    assert gone["display_name"] == "former member"
    assert gone["deleted"] is True and gone["deactivated"] is False
    assert gone["email"] != bob.email and gone["email"].endswith(".invalid")
    assert gone["role"] == "member"

    # His messages and reactions stay; he left the group as a removal does, and the
    # direct conversation keeps its two people.
    messages = await history(admin, group["id"])
    assert [(m["sender_id"], m["body"]) for m in messages] == [(bob.id, "bob's words stay")]
    assert {r["emoji"]: r["count"] for r in messages[0]["reactions"]} == {"👍": 1, "🎉": 1}
    last = (await log_events(admin, group["id"]))[-1]
    assert (last["kind"], last["data"]) == (
        "member.removed",
        {"user_id": bob.id, "removed_by": bob.id},
    )
    members = (await admin.get(f"/api/v1/conversations/{group['id']}")).json()["members"]
    assert [m["user_id"] for m in members] == [admin.id]
    dm = (await admin.get(f"/api/v1/conversations/{direct['id']}")).json()
    assert {m["user_id"]: m["display_name"] for m in dm["members"]}[bob.id] == "former member"
    assert [m["body"] for m in await history(admin, direct["id"])] == ["just between us"]

    # His address is free: he (or anyone) may sign up with it again.
    again = await directory.client.post("/api/v1/auth/signup", json=signup_body(email=bob.email))
    assert again.status_code == 202, again.text
    assert (await directory.confirm(bob.email)).id != bob.id


async def test_a_wrong_or_missing_password_or_a_bad_body_changes_nothing(
    directory: Directory, settings: Settings
) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    group = await directory.conversation(admin, "group", [bob], title="plans")
    await send(bob, group["id"], "still here")
    before = await company_rows(settings.effective_migration_database_url, [admin.company_id])

    error_of(await delete_me(bob, password="not my password"), 401, "invalid_credentials")
    for body in (
        {"erase_messages": "yes"},
        {"erase_messages": 1},
        {"password": ""},
        {"surprise": True},
    ):
        error_of(await delete_me(bob, **body), 422, "validation_error")
    no_body = await bob.delete("/api/v1/me")
    error_of(no_body, 422, "validation_error")

    assert (
        await company_rows(settings.effective_migration_database_url, [admin.company_id]) == before
    )
    assert (await bob.get("/api/v1/me")).status_code == 200


async def test_the_last_admin_cannot_delete_herself(directory: Directory) -> None:
    admin = await directory.company()
    error_of(await delete_me(admin), 409, "last_admin")
    bob = await directory.colleague(admin, "Bob")
    assert (await admin.patch(f"/api/v1/users/{bob.id}", json={"role": "admin"})).is_success
    assert (await delete_me(admin)).status_code == 204
    assert (await listed(bob, admin.id))["deleted"] is True


async def test_an_admin_deletes_a_colleague_and_erases_their_messages(
    directory: Directory,
) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    mia = await directory.colleague(admin, "Mia")
    channel = await directory.conversation(admin, "channel", [bob, mia], title="news")
    cid = channel["id"]
    doomed = await send(bob, cid, "a platypus secret")
    r = await bob.patch(f"/api/v1/messages/{doomed['id']}", json={"body": "an echidna secret"})
    assert r.status_code == 200
    kept = await send(mia, cid, "mia's words stay")
    await send(bob, cid, "another platypus")

    r = await delete_person(admin, bob.id, erase_messages=True)
    assert r.status_code == 200, r.text
    assert r.json()["display_name"] == "former member" and r.json()["deleted"] is True
    error_of(await bob.get("/api/v1/me"), 401, "session_revoked")

    for viewer in (admin, mia):
        messages = await history(viewer, cid)
        assert [m["body"] for m in messages] == ["", "mia's words stay", ""]
        erased = [m for m in messages if m["sender_id"] == bob.id]
        assert [m["deleted_by"] for m in erased] == [admin.id, admin.id]
        assert messages[1]["id"] == kept["id"] and messages[1]["deleted_at"] is None
        events = await log_events(viewer, cid)
        text = str(events)
        assert "platypus" not in text and "echidna" not in text
        kinds = [e["kind"] for e in events[-3:]]
        assert kinds == ["message.deleted", "message.deleted", "member.removed"]
        assert events[-1]["data"] == {"user_id": bob.id, "removed_by": admin.id}
        found = await viewer.get("/api/v1/search", params={"q": "platypus"})
        assert found.status_code == 200 and found.json()["results"] == []


async def test_an_admin_deletion_keeps_messages_by_default(directory: Directory) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    group = await directory.conversation(admin, "group", [bob], title="plans")
    await send(bob, group["id"], "kept words")
    r = await admin.delete(f"/api/v1/users/{bob.id}")  # no body: erase_messages false
    assert r.status_code == 200, r.text
    assert [m["body"] for m in await history(admin, group["id"])] == ["kept words"]


async def test_who_may_delete_whom(directory: Directory) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    mia = await directory.colleague(admin, "Mia")
    stranger = await directory.company("Elsewhere")
    error_of(await delete_person(bob, mia.id), 403, "admin_required")
    error_of(await delete_person(admin, stranger.id), 404)  # another company's
    error_of(await delete_person(admin, "not-an-id"), 404)
    error_of(await delete_person(admin, admin.id), 422, "own_account")
    error_of(await delete_person(admin, bob.id, erase_messages="no"), 422, "validation_error")
    assert (await delete_person(admin, bob.id)).status_code == 200
    # A deleted account is no one to manage, talk to or add.
    error_of(await delete_person(admin, bob.id), 404)
    for action in ("deactivate", "reactivate", "password-reset"):
        error_of(await admin.post(f"/api/v1/users/{bob.id}/{action}"), 404)
    error_of(await admin.patch(f"/api/v1/users/{bob.id}", json={"role": "admin"}), 404)
    r = await admin.post("/api/v1/conversations", json={"kind": "direct", "member_ids": [bob.id]})
    error_of(r, 422, "unknown_users")
    group = await directory.conversation(admin, "group", [mia], title="later")
    r = await admin.post(
        f"/api/v1/conversations/{group['id']}/members", json={"user_ids": [bob.id]}
    )
    error_of(r, 422, "unknown_users")


async def test_their_invites_and_reset_links_end(directory: Directory) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    assert (await admin.patch(f"/api/v1/users/{bob.id}", json={"role": "admin"})).is_success
    code = (await bob.post("/api/v1/invites", json={})).json()["code"]
    link = (await admin.post(f"/api/v1/users/{bob.id}/password-reset")).json()["url"]
    token = link.split("#/reset/")[1]

    assert (await delete_me(bob)).status_code == 204

    listed_codes = [i["code"] for i in (await admin.get("/api/v1/invites")).json()["invites"]]
    assert listed_codes and code not in listed_codes  # the admin's own invite stays
    join = await directory.client.post(
        "/api/v1/auth/join",
        json={
            "invite_code": code,
            "email": "late@example.test",
            "password": PASSWORD,
            "display_name": "Late",
        },
    )
    error_of(join, 422, "invalid_invite")
    reset = await directory.client.post(
        "/api/v1/auth/password-reset", json={"token": token, "new_password": "a new long one"}
    )
    error_of(reset, 422, "invalid_reset_token")


async def test_an_identity_provider_s_person_is_deleted_by_an_admin(env: dict[str, str]) -> None:
    settings = settings_from_env(env, external_jwt_secret=IDP_SECRET)
    async with running_app(settings) as (app, c):
        founder = await Directory(c).company()
        linked = await accounts.create_user(
            app.state.ctx,
            company_id=founder.company_id,
            email=unique_email("sso"),
            display_name="Via SSO",
            password=None,
            external_id="idp|leaver",
        )
        own = bearer(idp_token("idp|leaver"))
        r = await c.request("DELETE", "/api/v1/me", json={"password": PASSWORD}, headers=own)
        error_of(r, 409, "no_password")
        r = await c.request(
            "DELETE", f"/api/v1/users/{linked['id']}", json={}, headers=founder.headers
        )
        assert r.status_code == 200, r.text
        error_of(await c.get("/api/v1/me", headers=own), 401, "unknown_identity")


async def _deletion_closes_the_socket(
    http: httpx.AsyncClient, socket_server: ServerProcess
) -> None:
    directory = Directory(http)
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    ws = await authenticated_socket(socket_server, bob)
    assert (await delete_person(admin, bob.id)).status_code == 200
    assert await _closed(ws) == (4401, "session_revoked")


async def test_a_deleted_person_s_socket_closes(live: Directory, server: ServerProcess) -> None:
    await _deletion_closes_the_socket(live.client, server)


@on_two_nodes
async def test_a_deletion_on_one_node_closes_the_socket_on_the_other(
    two_nodes: tuple[ServerProcess, ServerProcess, Directory],
) -> None:
    node_a, _node_b, directory_b = two_nodes
    await _deletion_closes_the_socket(directory_b.client, node_a)


async def test_a_session_written_after_the_deletion_does_not_stand(
    directory: Directory, app: FastAPI, settings: Settings
) -> None:
    """A login that checked the password just before the deletion committed still writes
    its session afterwards; that session is refused all the same."""
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    assert (await delete_person(admin, bob.id)).status_code == 200
    late = str(uuid.uuid4())
    async with app.state.ctx.db.write() as conn:
        await conn.execute(
            sessions.insert().values(
                id=late,
                user_id=bob.id,
                device="racing login",
                address="127.0.0.1",
                created_at=utcnow(),
                last_seen_at=utcnow(),
                expires_at=utcnow() + timedelta(hours=1),
                refresh_generation=1,
                refresh_hash="0" * 64,
            )
        )
    token, _ = issue_access_token(settings, Actor(bob.id, bob.company_id, "member", late))
    error_of(
        await directory.client.get("/api/v1/me", headers=bearer(token)), 401, "session_revoked"
    )
