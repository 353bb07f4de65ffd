"""Random input for the API: strategies, and a synchronous way to call an app with it
(hypothesis drives plain functions, the app runs on an event loop in a helper thread)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import httpx
from anyio.from_thread import start_blocking_portal
from fastapi import FastAPI
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.support import Outbox, unique_email

# Strings that have broken parsers and databases before, mixed in with arbitrary text.
NASTY = ["", " ", "\x00", "a\x00b", "²", "9" * 30, "-1", "null", "x" * 20_000, "é\u200b\ufeff"]
texts = st.text(max_size=30) | st.sampled_from(NASTY)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63 - 2, max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

MESSAGE_FIELDS = ["body", "client_msg_id", "thread_root_id", "attachment_ids"]
CONVERSATION_FIELDS = ["kind", "title", "member_ids"]


def bodies_with(fields: list[str]) -> st.SearchStrategy[Any]:
    """Objects using the real field names (so that input reaches the domain), or any JSON."""
    known = st.dictionaries(st.sampled_from(fields), json_values, max_size=len(fields))
    plausible = st.fixed_dictionaries(
        {},
        optional={
            f: texts | st.lists(texts, max_size=3) | st.sampled_from(["direct", "group"])
            for f in fields
        },
    )
    return known | plausible | json_values


Call = Callable[..., httpx.Response]


@contextmanager
def calling(app: FastAPI) -> Iterator[Call]:
    """`app` started (its lifespan) and a synchronous request function for it."""
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(app.router.lifespan_context(app)),
    ):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        client = httpx.AsyncClient(transport=transport, base_url="http://hallway.test")

        def request(method: str, url: str, **kwargs: Any) -> httpx.Response:
            return portal.call(partial(client.request, method, url, **kwargs))

        yield request
        portal.call(client.aclose)


def _confirmed(call: Call, path: str, body: dict[str, str]) -> dict[str, Any]:
    """The session of a sign-up or join, finished with the link from the outbox."""
    assert call("POST", path, json=body).status_code == 202
    token = Outbox().confirmation_token(body["email"])
    session: dict[str, Any] = call("POST", "/api/v1/auth/confirm", json={"token": token}).json()
    return session


def signed_up(call: Call) -> tuple[dict[str, str], str, str]:
    """(headers of an admin, a colleague's id, a conversation of theirs)."""
    password = "correct horse battery"
    admin = _confirmed(
        call,
        "/api/v1/auth/signup",
        {
            "email": unique_email("fuzz"),
            "password": password,
            "company_name": "Fuzz",
            "display_name": "F",
        },
    )
    headers = {"Authorization": f"Bearer {admin['access_token']}"}
    code = call("POST", "/api/v1/invites", json={}, headers=headers).json()["code"]
    joined = _confirmed(
        call,
        "/api/v1/auth/join",
        {
            "invite_code": code,
            "email": unique_email("fuzz"),
            "password": password,
            "display_name": "Colleague",
        },
    )
    colleague = joined["user"]["id"]
    return headers, colleague, group_with(call, headers, colleague)


def group_with(call: Call, headers: dict[str, str], colleague: str) -> str:
    """A new group of the caller and `colleague`."""
    return str(
        call(
            "POST",
            "/api/v1/conversations",
            json={"kind": "group", "member_ids": [colleague], "title": "fuzz"},
            headers=headers,
        ).json()["id"]
    )


def assert_handled(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"}
        assert set(body["error"]) == {"code", "message", "details", "request_id"}


FUZZ = hypothesis_settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
