"""Accounts: signup, login, invites and joining, the directory, and every way a token fails."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI

from hallway.domain import accounts
from hallway.store.tables import invites
from tests.support import (
    SECRET,
    Directory,
    Outbox,
    Person,
    error_of,
    named_fields,
    running_app,
    session_of,
    settings_from_env,
    unique_email,
)

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse battery"
IDP_SECRET = "the-identity-providers-shared-secret-0123456789"


def assert_session(body: dict[str, Any], email: str, role: str) -> None:
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "refresh_expires_in",
        "user",
    }
    assert body["token_type"] == "bearer"
    assert body["expires_in"] > 0 and body["refresh_expires_in"] > body["expires_in"]
    assert set(body["user"]) == {
        "id",
        "email",
        "display_name",
        "company_id",
        "role",
        "deactivated",
        "deleted",
        "status_text",
        "status_emoji",
        "time_zone",
        "avatar_url",
        "dnd_until",
    }
    assert body["user"]["deactivated"] is False
    assert body["user"]["deleted"] is False
    assert body["user"]["email"] == email
    assert body["user"]["role"] == role


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- login ----------------------------------------------------------------------------------


async def test_login_answers_a_session(directory: Directory) -> None:
    admin = await directory.company()
    r = await directory.client.post(
        "/api/v1/auth/login", json={"email": admin.email.upper(), "password": PASSWORD}
    )
    assert r.status_code == 200, r.text
    assert_session(r.json(), admin.email, "admin")
    assert r.json()["user"]["id"] == admin.id


async def test_wrong_password_and_unknown_email_answer_the_same(directory: Directory) -> None:
    admin = await directory.company()
    wrong = await directory.client.post(
        "/api/v1/auth/login", json={"email": admin.email, "password": "not the password"}
    )
    unknown = await directory.client.post(
        "/api/v1/auth/login", json={"email": unique_email("nobody"), "password": PASSWORD}
    )
    assert error_of(wrong, 401, "invalid_credentials") == error_of(
        unknown, 401, "invalid_credentials"
    )


# --- invites and joining --------------------------------------------------------------------


async def test_an_invite_answers_what_it_allows(directory: Directory) -> None:
    admin = await directory.company()
    invite = await admin.post("/api/v1/invites", json={})
    assert invite.status_code == 201
    assert set(invite.json()) == {
        "code",
        "expires_at",
        "max_uses",
        "uses",
        "created_at",
        "created_by",
    }
    assert (invite.json()["max_uses"], invite.json()["uses"]) == (None, 0)
    expires_at = datetime.fromisoformat(invite.json()["expires_at"])
    assert expires_at > datetime.now(UTC)


async def join_with(client: httpx.AsyncClient, code: str) -> httpx.Response:
    """Ask to join with `code`; when that is accepted, open the mailed link. The answer of
    whichever step refused, or of the link."""
    email = unique_email("joiner")
    r = await client.post(
        "/api/v1/auth/join",
        json={"invite_code": code, "email": email, "password": PASSWORD, "display_name": "J"},
    )
    if r.status_code != 202:
        return r
    token = Outbox().confirmation_token(email)
    return await client.post("/api/v1/auth/confirm", json={"token": token})


async def test_unknown_invite_code_is_refused(client: httpx.AsyncClient) -> None:
    error = error_of(await join_with(client, "no-such-code"), 422, "invalid_invite")
    assert named_fields(error) == {"invite_code"}


async def test_expired_invite_is_refused(directory: Directory, app: FastAPI) -> None:
    admin = await directory.company()
    now = datetime.now(UTC)
    async with app.state.ctx.db.write() as conn:
        await conn.execute(
            invites.insert().values(
                code="expired-invite",
                company_id=admin.company_id,
                created_by=admin.id,
                created_at=now - timedelta(days=8),
                expires_at=now - timedelta(seconds=1),
            )
        )
    error_of(await join_with(directory.client, "expired-invite"), 422, "invalid_invite")
    people = await admin.get("/api/v1/users")
    assert [p["id"] for p in people.json()["users"]] == [admin.id]


async def test_only_admins_create_list_and_revoke_invites(directory: Directory) -> None:
    admin = await directory.company()
    member = await directory.colleague(admin, "Member")
    code = (await admin.post("/api/v1/invites", json={})).json()["code"]
    error_of(await member.post("/api/v1/invites", json={}), 403, "admin_required")
    error_of(await member.get("/api/v1/invites"), 403, "admin_required")
    error_of(await member.delete(f"/api/v1/invites/{code}"), 403, "admin_required")


async def test_an_invite_limited_in_uses_lets_that_many_join(directory: Directory) -> None:
    admin = await directory.company()
    r = await admin.post("/api/v1/invites", json={"max_uses": 2, "expires_in": 3600})
    assert r.status_code == 201, r.text
    invite = r.json()
    assert invite["max_uses"] == 2
    expires_at = datetime.fromisoformat(invite["expires_at"])
    assert timedelta(minutes=59) < expires_at - datetime.now(UTC) <= timedelta(hours=1)
    for _ in range(2):
        assert (await join_with(directory.client, invite["code"])).status_code == 201
    listed = (await admin.get("/api/v1/invites")).json()["invites"]
    assert invite["code"] not in [i["code"] for i in listed]  # used up
    error_of(await join_with(directory.client, invite["code"]), 422, "invalid_invite")
    people = (await admin.get("/api/v1/users")).json()["users"]
    assert len(people) == 3


async def test_a_revoked_invite_lets_nobody_in(directory: Directory) -> None:
    admin = await directory.company()
    other = await directory.company("Other")
    code = (await admin.post("/api/v1/invites", json={})).json()["code"]
    listed = (await admin.get("/api/v1/invites")).json()["invites"]
    assert [(i["code"], i["uses"]) for i in listed] == [(code, 0)]
    error_of(await other.delete(f"/api/v1/invites/{code}"), 404)  # another company's
    assert (await admin.delete(f"/api/v1/invites/{code}")).status_code == 204
    assert (await admin.get("/api/v1/invites")).json()["invites"] == []
    error_of(await join_with(directory.client, code), 422, "invalid_invite")


@pytest.mark.parametrize(
    "body", [{"max_uses": 0}, {"max_uses": 1001}, {"expires_in": 59}, {"expires_in": 10**9}]
)
async def test_an_invite_s_limits_are_checked(directory: Directory, body: dict[str, int]) -> None:
    admin = await directory.company()
    error_of(await admin.post("/api/v1/invites", json=body), 422)
    assert (await admin.get("/api/v1/invites")).json()["invites"] == []


# --- me and the directory -------------------------------------------------------------------


async def test_directory_lists_only_my_company(directory: Directory) -> None:
    acme = await directory.company("Acme")
    bob = await directory.colleague(acme, "Bob")
    other = await directory.company("Other")
    await directory.colleague(other, "Stranger")
    r = await bob.get("/api/v1/users")
    assert r.status_code == 200
    people = r.json()["users"]
    assert {p["id"] for p in people} == {acme.id, bob.id}
    assert {p["company_id"] for p in people} == {acme.company_id}
    assert all(p["presence"] in ("online", "offline") for p in people)
    # Ordered by display name.
    assert [p["display_name"] for p in people] == sorted(p["display_name"] for p in people)


async def test_me_answers_the_callers_account(directory: Directory) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    r = await bob.get("/api/v1/me")
    assert r.json() == {
        "id": bob.id,
        "email": bob.email,
        "display_name": "Bob",
        "company_id": admin.company_id,
        "role": "member",
        "deactivated": False,
        "deleted": False,
        "status_text": None,
        "status_emoji": None,
        "time_zone": None,
        "avatar_url": None,
        "dnd_until": None,
    }


# --- tokens ---------------------------------------------------------------------------------


def own_token(person: Person, **claims: Any) -> str:
    now = datetime.now(UTC)
    payload = {
        "iss": "hallway",
        "typ": "access",
        "sub": person.id,
        "sid": session_of(person),
        "iat": now,
        "exp": now + timedelta(hours=1),
        **claims,
    }
    return jwt.encode(payload, SECRET, algorithm="HS256")


async def test_expired_token_is_401_token_expired(directory: Directory) -> None:
    admin = await directory.company()
    token = own_token(admin, exp=datetime.now(UTC) - timedelta(seconds=5))
    r = await directory.client.get("/api/v1/me", headers=bearer(token))
    error_of(r, 401, "token_expired")
    assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic YWRhOnNlY3JldA=="},
    ],
    ids=["missing", "empty-bearer", "basic"],
)
async def test_missing_credentials_are_401(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    error_of(await client.get("/api/v1/me", headers=headers), 401, "unauthenticated")


async def test_invalid_tokens_are_401_invalid_token(directory: Directory) -> None:
    admin = await directory.company()
    forged = jwt.encode(
        jwt.decode(admin.token, options={"verify_signature": False}),
        "some-other-secret-of-enough-length-0123456789",
        algorithm="HS256",
    )
    for token in ("garbage", "a.b.c", forged, own_token(admin, typ="refresh")):
        r = await directory.client.get("/api/v1/me", headers=bearer(token))
        error_of(r, 401, "invalid_token")


# --- an external identity provider -----------------------------------------------------------


def idp_token(sub: str, key: Any = IDP_SECRET, algorithm: str = "HS256", **claims: Any) -> str:
    now = datetime.now(UTC)
    payload = {"sub": sub, "iat": now, "exp": now + timedelta(minutes=5), **claims}
    return jwt.encode(payload, key, algorithm=algorithm)


async def test_external_identity_tokens_map_to_users(env: dict[str, str]) -> None:
    settings = settings_from_env(env, external_jwt_secret=IDP_SECRET)
    async with running_app(settings) as (app, c):
        founder = await Directory(c).company()
        company_id = founder.company_id
        linked = await accounts.create_user(
            app.state.ctx,
            company_id=company_id,
            email=unique_email("sso"),
            display_name="Via SSO",
            password=None,
            external_id="idp|12345",
        )
        me = await c.get("/api/v1/me", headers=bearer(idp_token("idp|12345")))
        assert me.status_code == 200, me.text
        assert me.json()["id"] == linked["id"]
        assert me.json()["company_id"] == company_id
        # Our own tokens keep working alongside.
        own = await c.get("/api/v1/me", headers=bearer(founder.token))
        assert own.status_code == 200

        unknown = await c.get("/api/v1/me", headers=bearer(idp_token("idp|nobody")))
        error_of(unknown, 401, "unknown_identity")
        wrong_key = idp_token("idp|12345", key="not-the-idp-secret-but-long-enough-000")
        error_of(await c.get("/api/v1/me", headers=bearer(wrong_key)), 401, "invalid_token")
        expired = idp_token("idp|12345", exp=datetime.now(UTC) - timedelta(minutes=1))
        error_of(await c.get("/api/v1/me", headers=bearer(expired)), 401, "token_expired")


async def test_password_login_is_refused_for_external_only_accounts(
    directory: Directory, app: FastAPI
) -> None:
    admin = await directory.company()
    user = await accounts.create_user(
        app.state.ctx,
        company_id=admin.company_id,
        email=unique_email("sso"),
        display_name="SSO only",
        password=None,
        external_id="idp|only",
    )
    r = await directory.client.post(
        "/api/v1/auth/login", json={"email": user["email"], "password": PASSWORD}
    )
    error_of(r, 401, "invalid_credentials")


async def test_external_public_key_refuses_tokens_signed_otherwise(env: dict[str, str]) -> None:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    settings = settings_from_env(env, external_jwt_public_key=public_pem)
    async with running_app(settings) as (app, c):
        founder = await Directory(c).company()
        await accounts.create_user(
            app.state.ctx,
            company_id=founder.company_id,
            email=unique_email("sso"),
            display_name="Via SSO",
            password=None,
            external_id="idp|rsa",
        )
        good = idp_token("idp|rsa", key=private_key, algorithm="RS256")
        assert (await c.get("/api/v1/me", headers=bearer(good))).status_code == 200
        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        forged = idp_token("idp|rsa", key=other_key, algorithm="RS256")
        error_of(await c.get("/api/v1/me", headers=bearer(forged)), 401, "invalid_token")
        # The public key used as an HMAC secret: the classic algorithm-confusion forgery.
        confused = hmac_token("idp|rsa", public_pem.encode())
        error_of(await c.get("/api/v1/me", headers=bearer(confused)), 401, "invalid_token")


def hmac_token(sub: str, key: bytes) -> str:
    """An HS256 token signed with any bytes (PyJWT itself refuses a PEM key as a secret)."""

    def b64(raw: bytes) -> bytes:
        return base64.urlsafe_b64encode(raw).rstrip(b"=")

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    exp = int((datetime.now(UTC) + timedelta(minutes=5)).timestamp())
    payload = b64(json.dumps({"sub": sub, "exp": exp}).encode())
    signature = b64(hmac.new(key, header + b"." + payload, hashlib.sha256).digest())
    return (header + b"." + payload + b"." + signature).decode()
