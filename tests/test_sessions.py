"""Sessions: refresh tokens that rotate, logout, my sessions, password change, and an admin's
hold over people (deactivate, reactivate, role), with the role and company read from the
database, not from the token."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
import jwt
import orjson
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tests.support import (
    SECRET,
    Directory,
    Person,
    ServerProcess,
    authenticated_socket,
    error_of,
    eventually,
    on_two_nodes,
)

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse battery"


async def _login(directory: Directory, person: Person, agent: str = "tests") -> Person:
    """A second session of the same person."""
    r = await directory.client.post(
        "/api/v1/auth/login",
        json={"email": person.email, "password": PASSWORD},
        headers={"User-Agent": agent},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    return Person(
        person.id,
        person.email,
        person.company_id,
        person.role,
        body["access_token"],
        directory.client,
        body["refresh_token"],
    )


async def _refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})


async def _closed(ws: ClientConnection, timeout: float = 5) -> tuple[int | None, str | None]:
    """Read until the socket closes; its close code and reason."""
    async with asyncio.timeout(timeout):
        with contextlib.suppress(ConnectionClosed):
            async for _ in ws:
                pass
    return ws.close_code, ws.close_reason


async def test_refresh_rotates_and_a_reused_refresh_token_ends_the_session(
    directory: Directory,
) -> None:
    admin = await directory.company()
    r = await _refresh(directory.client, admin.refresh_token)
    assert r.status_code == 200, r.text
    fresh = r.json()
    assert fresh["refresh_token"] != admin.refresh_token
    assert fresh["user"]["id"] == admin.id
    me = await directory.client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {fresh['access_token']}"}
    )
    assert me.status_code == 200
    # The spent token again: someone copied it. The session ends for both holders.
    error_of(await _refresh(directory.client, admin.refresh_token), 401, "session_revoked")
    error_of(await _refresh(directory.client, fresh["refresh_token"]), 401, "session_revoked")
    for token in (admin.token, fresh["access_token"]):
        r = await directory.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        error_of(r, 401, "session_revoked")


@pytest.mark.parametrize(
    "token", ["garbage", "a.b.c", "x.1.y", "0f1e0d2c-3b4a-5968-7a8b-9c0d1e2f3a4b.1.secret"]
)
async def test_a_made_up_refresh_token_is_refused(directory: Directory, token: str) -> None:
    error_of(await _refresh(directory.client, token), 401, "invalid_refresh_token")


async def test_a_wrong_secret_is_refused_without_ending_the_session(
    directory: Directory,
) -> None:
    admin = await directory.company()
    session_id, generation, _ = admin.refresh_token.split(".")
    forged = f"{session_id}.{generation}.not-the-secret"
    error_of(await _refresh(directory.client, forged), 401, "invalid_refresh_token")
    assert (await admin.get("/api/v1/me")).status_code == 200
    assert (await _refresh(directory.client, admin.refresh_token)).status_code == 200


async def test_logout_ends_this_session_only(directory: Directory) -> None:
    admin = await directory.company()
    other = await _login(directory, admin)
    r = await admin.post("/api/v1/auth/logout")
    assert r.status_code == 204
    error_of(await admin.get("/api/v1/me"), 401, "session_revoked")
    error_of(await _refresh(directory.client, admin.refresh_token), 401, "session_revoked")
    assert (await other.get("/api/v1/me")).status_code == 200


async def test_my_sessions_are_listed_and_ended_one_by_one_or_all(
    directory: Directory,
) -> None:
    admin = await directory.company()
    phone = await _login(directory, admin, agent="phone browser")
    stranger = await directory.company("Elsewhere")
    r = await admin.get("/api/v1/sessions")
    assert r.status_code == 200
    listed = r.json()["sessions"]
    assert len(listed) == 2
    assert sum(s["current"] for s in listed) == 1
    assert {s["device"] for s in listed} >= {"phone browser"}
    assert set(listed[0]) == {"id", "device", "address", "created_at", "last_seen_at", "current"}
    phone_id = next(s["id"] for s in listed if s["device"] == "phone browser")
    # Another person's session is not found; mine ends.
    error_of(await stranger.delete(f"/api/v1/sessions/{phone_id}"), 404)
    assert (await phone.get("/api/v1/me")).status_code == 200
    assert (await admin.delete(f"/api/v1/sessions/{phone_id}")).status_code == 204
    error_of(await phone.get("/api/v1/me"), 401, "session_revoked")
    assert [s["current"] for s in (await admin.get("/api/v1/sessions")).json()["sessions"]] == [
        True
    ]
    # Log out everywhere, this session included.
    laptop = await _login(directory, admin)
    assert (await admin.delete("/api/v1/sessions")).status_code == 204
    for person in (admin, laptop):
        error_of(await person.get("/api/v1/me"), 401, "session_revoked")


async def test_changing_the_password_ends_every_other_session(directory: Directory) -> None:
    admin = await directory.company()
    other = await _login(directory, admin)
    wrong = await admin.post(
        "/api/v1/me/password",
        json={"current_password": "not it at all", "new_password": "a new long secret"},
    )
    error_of(wrong, 401, "invalid_credentials")
    short = await admin.post(
        "/api/v1/me/password", json={"current_password": PASSWORD, "new_password": "short"}
    )
    error_of(short, 422)
    assert (await other.get("/api/v1/me")).status_code == 200  # nothing changed yet
    r = await admin.post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "a new long secret"},
    )
    assert r.status_code == 204, r.text
    assert (await admin.get("/api/v1/me")).status_code == 200
    error_of(await other.get("/api/v1/me"), 401, "session_revoked")
    old = await directory.client.post(
        "/api/v1/auth/login", json={"email": admin.email, "password": PASSWORD}
    )
    error_of(old, 401, "invalid_credentials")
    new = await directory.client.post(
        "/api/v1/auth/login", json={"email": admin.email, "password": "a new long secret"}
    )
    assert new.status_code == 200


async def test_a_deactivated_person_cannot_log_in_refresh_or_act(directory: Directory) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    error_of(await bob.post(f"/api/v1/users/{admin.id}/deactivate"), 403, "admin_required")
    r = await admin.post(f"/api/v1/users/{bob.id}/deactivate")
    assert r.status_code == 200 and r.json()["deactivated"] is True
    error_of(await bob.get("/api/v1/me"), 401, "session_revoked")
    error_of(await _refresh(directory.client, bob.refresh_token), 401, "session_revoked")
    login = await directory.client.post(
        "/api/v1/auth/login", json={"email": bob.email, "password": PASSWORD}
    )
    error_of(login, 401, "account_deactivated")
    # The wrong password still answers as for anyone: deactivation is told only to the owner.
    wrong = await directory.client.post(
        "/api/v1/auth/login", json={"email": bob.email, "password": "wrong password"}
    )
    error_of(wrong, 401, "invalid_credentials")
    people = (await admin.get("/api/v1/users")).json()["users"]
    assert next(p for p in people if p["id"] == bob.id)["deactivated"] is True
    r = await admin.post(f"/api/v1/users/{bob.id}/reactivate")
    assert r.status_code == 200 and r.json()["deactivated"] is False
    assert (await _login(directory, bob)).token
    # The old sessions stay ended.
    error_of(await bob.get("/api/v1/me"), 401, "session_revoked")


async def test_a_company_keeps_an_active_admin(directory: Directory) -> None:
    admin = await directory.company()
    other = await directory.company("Other")
    error_of(await admin.post(f"/api/v1/users/{admin.id}/deactivate"), 409, "last_admin")
    error_of(await admin.patch(f"/api/v1/users/{admin.id}", json={"role": "member"}), 409)
    error_of(await admin.post(f"/api/v1/users/{other.id}/deactivate"), 404)
    error_of(await admin.patch(f"/api/v1/users/{admin.id}", json={"role": "owner"}), 422)


async def test_a_role_change_holds_from_the_next_request(directory: Directory) -> None:
    """The role is read from the database, not from the token the person holds."""
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    error_of(await bob.post("/api/v1/invites", json={}), 403, "admin_required")
    r = await admin.patch(f"/api/v1/users/{bob.id}", json={"role": "admin"})
    assert r.status_code == 200 and r.json()["role"] == "admin"
    assert (await bob.post("/api/v1/invites", json={})).status_code == 201
    # Bob demotes the founder, whose unexpired token no longer makes invites.
    assert (await bob.patch(f"/api/v1/users/{admin.id}", json={"role": "member"})).is_success
    error_of(await admin.post("/api/v1/invites", json={}), 403, "admin_required")


async def _revocation_closes_the_socket(
    http: httpx.AsyncClient, socket_server: ServerProcess
) -> None:
    directory = Directory(http)
    admin = await directory.company()
    phone = await _login(directory, admin)
    ws_phone = await authenticated_socket(socket_server, phone)
    ws_admin = await authenticated_socket(socket_server, admin)
    try:
        listed = (await admin.get("/api/v1/sessions")).json()["sessions"]
        [phone_session] = [s["id"] for s in listed if not s["current"]]
        assert (await admin.delete(f"/api/v1/sessions/{phone_session}")).status_code == 204
        assert await _closed(ws_phone) == (4401, "session_revoked")
        # The other session's socket lives on.
        await ws_admin.send(orjson.dumps({"type": "ping"}).decode())
        assert orjson.loads(await ws_admin.recv())["type"] in ("pong", "presence")
        # Deactivation closes every socket of the person.
        bob = await directory.colleague(admin, "Bob")
        ws_bob = await authenticated_socket(socket_server, bob)
        assert (await admin.post(f"/api/v1/users/{bob.id}/deactivate")).status_code == 200
        assert await _closed(ws_bob) == (4401, "session_revoked")
        # A revoked session's token opens no new socket either.
        async with httpx.AsyncClient(base_url=socket_server.base_url, timeout=10) as there:

            async def refused() -> bool:
                r = await there.get("/api/v1/me", headers=phone.headers)
                return r.status_code == 401

            await eventually(refused, timeout=3)
    finally:
        await ws_admin.close()


@pytest.mark.every_server
async def test_a_revoked_session_s_socket_closes(live: Directory, server: ServerProcess) -> None:
    await _revocation_closes_the_socket(live.client, server)


@on_two_nodes
async def test_a_revocation_on_one_node_closes_the_socket_on_the_other(
    two_nodes: tuple[ServerProcess, ServerProcess, Directory],
) -> None:
    node_a, _node_b, directory_b = two_nodes
    await _revocation_closes_the_socket(directory_b.client, node_a)


async def test_a_signed_token_of_no_session_is_refused(directory: Directory) -> None:
    """A token signed with the right key but naming a session (or person) that doesn't
    exist reads nothing."""
    admin = await directory.company()
    claims: dict[str, Any] = jwt.decode(admin.token, SECRET, algorithms=["HS256"])
    for changed in ({"sid": "no-such-session"}, {"sub": "no-such-person"}):
        token = jwt.encode({**claims, **changed}, SECRET, algorithm="HS256")
        r = await directory.client.get(
            "/api/v1/users", headers={"Authorization": f"Bearer {token}"}
        )
        error_of(r, 401, "session_revoked")
