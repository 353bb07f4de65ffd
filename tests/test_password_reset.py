"""An admin's one-time password-reset link: shown to the admin without SMTP, mailed to the
person (and not shown) with it; good once, for a while; using it ends every session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import update

from hallway.store.tables import password_resets
from tests.support import (
    Directory,
    Person,
    SmtpInbox,
    error_of,
    running_app,
)

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new secret"


def _token(url: str) -> str:
    assert "/#/reset/" in url, url
    return url.rsplit("/", 1)[1]


async def _reset(directory: Directory, token: str, password: str = NEW_PASSWORD) -> Any:
    return await directory.client.post(
        "/api/v1/auth/password-reset", json={"token": token, "new_password": password}
    )


async def _logs_in(directory: Directory, person: Person, password: str) -> bool:
    r = await directory.client.post(
        "/api/v1/auth/login", json={"email": person.email, "password": password}
    )
    return r.status_code == 200


async def test_without_mail_the_admin_is_shown_a_link_that_works_once(
    directory: Directory,
) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    error_of(await bob.post(f"/api/v1/users/{admin.id}/password-reset"), 403, "admin_required")
    r = await admin.post(f"/api/v1/users/{bob.id}/password-reset")
    assert r.status_code == 201, r.text
    link = r.json()
    assert link["emailed"] is False
    expires_at = datetime.fromisoformat(link["expires_at"])
    assert timedelta(minutes=14) < expires_at - datetime.now(UTC) <= timedelta(minutes=15)
    token = _token(link["url"])
    error_of(await _reset(directory, token, "short"), 422)
    assert await _logs_in(directory, bob, PASSWORD)  # nothing changed yet
    assert (await _reset(directory, token)).status_code == 204
    assert await _logs_in(directory, bob, NEW_PASSWORD)
    assert not await _logs_in(directory, bob, PASSWORD)
    error_of(await bob.get("/api/v1/me"), 401, "session_revoked")  # every session ended
    error_of(await _reset(directory, token, "another new secret"), 422, "invalid_reset_token")


async def test_a_newer_link_replaces_the_older_and_links_expire(
    directory: Directory, app: FastAPI
) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    first = _token((await admin.post(f"/api/v1/users/{bob.id}/password-reset")).json()["url"])
    second = _token((await admin.post(f"/api/v1/users/{bob.id}/password-reset")).json()["url"])
    error_of(await _reset(directory, first), 422, "invalid_reset_token")
    async with app.state.ctx.db.write() as conn:
        await conn.execute(
            update(password_resets)
            .where(password_resets.c.user_id == bob.id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    error_of(await _reset(directory, second), 422, "invalid_reset_token")
    error_of(await _reset(directory, "made-up"), 422, "invalid_reset_token")
    assert await _logs_in(directory, bob, PASSWORD)


async def test_only_people_of_the_admin_s_company_who_are_active(directory: Directory) -> None:
    admin = await directory.company()
    stranger = await directory.company("Elsewhere")
    bob = await directory.colleague(admin, "Bob")
    error_of(await admin.post(f"/api/v1/users/{stranger.id}/password-reset"), 404)
    assert (await admin.post(f"/api/v1/users/{bob.id}/deactivate")).status_code == 200
    error_of(await admin.post(f"/api/v1/users/{bob.id}/password-reset"), 409, "account_deactivated")


async def test_with_mail_the_link_goes_to_the_person_only(
    env: dict[str, str], smtp_inbox: SmtpInbox
) -> None:
    settings = smtp_inbox.settings(env, public_url="https://chat.example.test")
    async with running_app(settings) as (_app, client):
        directory = Directory(client, smtp_inbox)
        admin = await directory.company()
        bob = await directory.colleague(admin, "Bob")
        r = await admin.post(f"/api/v1/users/{bob.id}/password-reset")
        assert r.status_code == 201, r.text
        assert r.json()["emailed"] is True and r.json()["url"] is None
        [text] = [t for t in smtp_inbox.texts_to(bob.email) if "/#/reset/" in t]
        [line] = [x for x in text.splitlines() if "/#/reset/" in x]
        assert line.startswith("https://chat.example.test/#/reset/")
        assert (await _reset(directory, _token(line))).status_code == 204
        assert await _logs_in(directory, bob, NEW_PASSWORD)


async def test_a_mail_server_that_is_not_there_answers_503(
    env: dict[str, str], smtp_inbox: SmtpInbox
) -> None:
    async with running_app(smtp_inbox.settings(env)) as (_app, client):
        directory = Directory(client, smtp_inbox)
        admin = await directory.company()
        bob = await directory.colleague(admin, "Bob")
        smtp_inbox.controller.stop()
        r = await admin.post(f"/api/v1/users/{bob.id}/password-reset")
        error_of(r, 503, "mail_failed")
