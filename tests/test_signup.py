"""Sign-up and join finish with a mailed link, and answer alike whether or not the address
already has an account: its owner is mailed instead, and nothing is created."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from hallway.mail import outbox_mails_to
from hallway.store.tables import companies, signup_requests, users
from tests.support import (
    MAIL_OUTBOX,
    Directory,
    Outbox,
    SmtpInbox,
    error_of,
    named_fields,
    running_app,
    unique_email,
)

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse battery"


def signup_body(**overrides: str) -> dict[str, str]:
    return {
        "company_name": "Initech",
        "email": unique_email("founder"),
        "password": PASSWORD,
        "display_name": "Founder",
        **overrides,
    }


def join_body(code: str, **overrides: str) -> dict[str, str]:
    return {
        "invite_code": code,
        "email": unique_email("joiner"),
        "password": PASSWORD,
        "display_name": "Joiner",
        **overrides,
    }


def mail_texts(address: str) -> list[str]:
    texts = []
    for mail in outbox_mails_to(MAIL_OUTBOX, address):
        body = mail.get_body(preferencelist=("plain",))
        assert body is not None
        texts.append(body.get_content())
    return texts


async def confirm(client: httpx.AsyncClient, address: str) -> httpx.Response:
    token = Outbox().confirmation_token(address)
    return await client.post("/api/v1/auth/confirm", json={"token": token})


async def count(app: FastAPI, query: Any) -> int:
    async with app.state.ctx.db.read() as conn:
        return int((await conn.execute(query)).scalar_one())


async def test_signup_mails_a_link_that_creates_the_company_once(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    body = signup_body(email=unique_email("Founder").upper())
    address = body["email"].lower()
    r = await client.post("/api/v1/auth/signup", json=body)
    assert r.status_code == 202, r.text
    assert r.json() == {"email": address, "expires_in": 24 * 3600}
    # Nothing exists until the link is opened.
    login = {"email": address, "password": PASSWORD}
    error_of(await client.post("/api/v1/auth/login", json=login), 401, "invalid_credentials")
    assert await count(app, select(func.count()).where(users.c.email == address)) == 0
    [text] = mail_texts(address)
    assert "create the company Initech" in text and "/#/welcome/" in text

    confirmed = await confirm(client, address)
    assert confirmed.status_code == 201, confirmed.text
    session = confirmed.json()
    assert session["user"]["email"] == address  # stored lower-cased
    assert (session["user"]["role"], session["user"]["display_name"]) == ("admin", "Founder")
    me = await client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {session['access_token']}"}
    )
    assert me.json() == session["user"]
    assert (await client.post("/api/v1/auth/login", json=login)).status_code == 200
    # The link works once.
    error_of(await confirm(client, address), 422, "invalid_signup_token")


async def test_a_taken_address_answers_alike_and_its_owner_is_told(
    directory: Directory, app: FastAPI
) -> None:
    owner = await directory.company("First")
    fresh = signup_body()
    taken = signup_body(email=owner.email.upper(), company_name="Second Co")
    new_answer = await directory.client.post("/api/v1/auth/signup", json=fresh)
    taken_answer = await directory.client.post("/api/v1/auth/signup", json=taken)
    assert new_answer.status_code == taken_answer.status_code == 202
    assert new_answer.headers.keys() == taken_answer.headers.keys()
    assert {**new_answer.json(), "email": None} == {**taken_answer.json(), "email": None}
    assert taken_answer.json()["email"] == owner.email

    # The owner is told, with no link; no company and no request were kept.
    [_, reminder] = mail_texts(owner.email)
    assert "already has an account" in reminder and "/#/welcome/" not in reminder
    named = select(func.count()).where(companies.c.name == "Second Co")
    assert await count(app, named) == 0
    pending = select(func.count()).where(
        signup_requests.c.email == owner.email, signup_requests.c.used_at.is_(None)
    )
    assert await count(app, pending) == 0
    # Logging in still works as before.
    login = {"email": owner.email, "password": PASSWORD}
    assert (await directory.client.post("/api/v1/auth/login", json=login)).status_code == 200


async def test_joining_with_a_taken_address_answers_alike_and_uses_no_invite(
    directory: Directory, app: FastAPI
) -> None:
    admin = await directory.company()
    elsewhere = await directory.company("Elsewhere")
    code = (await admin.post("/api/v1/invites", json={"max_uses": 1})).json()["code"]
    r = await directory.client.post(
        "/api/v1/auth/join", json=join_body(code, email=elsewhere.email)
    )
    assert r.status_code == 202, r.text
    assert r.json() == {"email": elsewhere.email, "expires_in": 24 * 3600}
    assert "already has an account" in mail_texts(elsewhere.email)[-1]
    [invite] = (await admin.get("/api/v1/invites")).json()["invites"]
    assert invite["uses"] == 0
    # The one use is still there for a newcomer.
    newcomer = join_body(code)
    assert (await directory.client.post("/api/v1/auth/join", json=newcomer)).status_code == 202
    joined = await confirm(directory.client, newcomer["email"])
    assert joined.status_code == 201, joined.text
    assert joined.json()["user"]["company_id"] == admin.company_id
    assert joined.json()["user"]["role"] == "member"


async def test_the_invite_is_checked_when_asking_and_used_when_confirming(
    directory: Directory,
) -> None:
    admin = await directory.company()
    unknown = await directory.client.post("/api/v1/auth/join", json=join_body("no-such-code"))
    assert named_fields(error_of(unknown, 422, "invalid_invite")) == {"invite_code"}

    code = (await admin.post("/api/v1/invites", json={"max_uses": 1})).json()["code"]
    first, second = join_body(code), join_body(code)
    for body in (first, second):  # both may ask while a use is left
        assert (await directory.client.post("/api/v1/auth/join", json=body)).status_code == 202
    assert (await confirm(directory.client, first["email"])).status_code == 201
    error_of(await confirm(directory.client, second["email"]), 422, "invalid_invite")

    revoked = (await admin.post("/api/v1/invites", json={})).json()["code"]
    late = join_body(revoked)
    assert (await directory.client.post("/api/v1/auth/join", json=late)).status_code == 202
    assert (await admin.delete(f"/api/v1/invites/{revoked}")).status_code == 204
    error_of(await confirm(directory.client, late["email"]), 422, "invalid_invite")
    people = (await admin.get("/api/v1/users")).json()["users"]
    assert sorted(p["email"] for p in people) == sorted([admin.email, first["email"]])


async def test_of_two_requests_for_one_address_the_first_confirmed_wins(
    client: httpx.AsyncClient,
) -> None:
    address = unique_email("twice")
    for name in ("One", "Two"):
        body = signup_body(email=address, company_name=name)
        assert (await client.post("/api/v1/auth/signup", json=body)).status_code == 202
    tokens = [t for t in map(_welcome_token, mail_texts(address)) if t]
    assert len(tokens) == 2
    won = await client.post("/api/v1/auth/confirm", json={"token": tokens[1]})
    assert won.status_code == 201, won.text
    lost = await client.post("/api/v1/auth/confirm", json={"token": tokens[0]})
    error_of(lost, 409, "email_taken")


def _welcome_token(text: str) -> str | None:
    for line in text.splitlines():
        if "/#/welcome/" in line:
            return line.rsplit("/", 1)[1]
    return None


async def test_an_expired_or_made_up_link_is_refused(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    body = signup_body()
    assert (await client.post("/api/v1/auth/signup", json=body)).status_code == 202
    async with app.state.ctx.db.write() as conn:
        await conn.execute(
            update(signup_requests)
            .where(signup_requests.c.email == body["email"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    error_of(await confirm(client, body["email"]), 422, "invalid_signup_token")
    made_up = await client.post("/api/v1/auth/confirm", json={"token": "made-up"})
    assert named_fields(error_of(made_up, 422, "invalid_signup_token")) == {"token"}
    error_of(await client.post("/api/v1/auth/confirm", json={"token": ""}), 422)
    error_of(await client.post("/api/v1/auth/confirm", json={"token": "x" * 101}), 422)
    login = {"email": body["email"], "password": PASSWORD}
    error_of(await client.post("/api/v1/auth/login", json=login), 401)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"password": "short"}, "password"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "two@@example.test"}, "email"),
        ({"display_name": "   "}, "display_name"),
        ({"company_name": "  "}, "company_name"),
    ],
)
async def test_signup_refuses_bad_input_naming_the_field_and_mails_nothing(
    client: httpx.AsyncClient, overrides: dict[str, str], field: str
) -> None:
    body = signup_body(**overrides)
    error = error_of(await client.post("/api/v1/auth/signup", json=body), 422)
    assert field in named_fields(error)
    assert mail_texts(body["email"]) == []


async def test_with_smtp_the_link_is_mailed_with_the_public_address(
    env: dict[str, str], smtp_inbox: SmtpInbox
) -> None:
    settings = smtp_inbox.settings(env, public_url="https://chat.example.test")
    async with running_app(settings) as (app, client):
        body = signup_body()
        assert (await client.post("/api/v1/auth/signup", json=body)).status_code == 202
        [text] = smtp_inbox.texts_to(body["email"])
        assert "https://chat.example.test/#/welcome/" in text
        assert mail_texts(body["email"]) == []  # not in the outbox: SMTP took it
        token = smtp_inbox.confirmation_token(body["email"])
        r = await client.post("/api/v1/auth/confirm", json={"token": token})
        assert r.status_code == 201, r.text

        smtp_inbox.controller.stop()
        unsent = signup_body()
        error_of(await client.post("/api/v1/auth/signup", json=unsent), 503, "mail_failed")
        async with app.state.ctx.db.read() as conn:
            kept = select(func.count()).where(signup_requests.c.email == unsent["email"])
            assert (await conn.execute(kept)).scalar_one() == 0  # nothing left behind
