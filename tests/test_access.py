"""Tenancy and access: every conversation, message, thread and event route answers 404 to
people of another company and to colleagues outside the conversation, and changes nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI

from hallway.config import Settings
from tests.support import Directory, Person, company_rows, error_of, send

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # a route path; {placeholders} are filled per test
    body: dict[str, Any] | None = None
    upload: bool = False  # a multipart file instead of a JSON body
    query: dict[str, str] | None = None
    admins_only: bool = False  # a participant who is no admin gets 403
    channels_only: bool = False  # in a direct conversation or group: 422 not_a_channel

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


# Every route that names a conversation or a message, in its path or its query. {target} is
# someone in the conversation, {me} the caller; test_the_table_covers_every_route keeps this
# list complete.
CALLS = [
    Call("GET", "/api/v1/conversations/{conversation_id}"),
    Call("PATCH", "/api/v1/conversations/{conversation_id}", {"title": "taken over"}),
    Call("POST", "/api/v1/conversations/{conversation_id}/members", {"user_ids": ["{target}"]}),
    Call("POST", "/api/v1/conversations/{conversation_id}/members", {"user_ids": ["{me}"]}),
    Call("DELETE", "/api/v1/conversations/{conversation_id}/members/{target}"),
    Call("DELETE", "/api/v1/conversations/{conversation_id}/members/{me}"),
    Call("POST", "/api/v1/conversations/{conversation_id}/read", {"seq": 1}),
    # Seq 2: the scene's message (seq 1 is the conversation's member.added).
    Call("POST", "/api/v1/conversations/{conversation_id}/unread", {"seq": 2}),
    Call(
        "PUT",
        "/api/v1/conversations/{conversation_id}/topic",
        {"topic": "taken over"},
        channels_only=True,
    ),
    Call("PATCH", "/api/v1/conversations/{conversation_id}/notifications", {"muted": True}),
    Call("POST", "/api/v1/conversations/{conversation_id}/archive", channels_only=True),
    Call("DELETE", "/api/v1/conversations/{conversation_id}/archive", channels_only=True),
    Call("POST", "/api/v1/conversations/{conversation_id}/messages", {"body": "let me in"}),
    Call("GET", "/api/v1/conversations/{conversation_id}/messages"),
    Call("GET", "/api/v1/conversations/{conversation_id}/events"),
    Call("GET", "/api/v1/conversations/{conversation_id}/retention"),
    Call(
        "PUT",
        "/api/v1/conversations/{conversation_id}/retention",
        {"retention": 1},
        admins_only=True,
    ),
    Call("POST", "/api/v1/conversations/{conversation_id}/attachments", upload=True),
    Call("GET", "/api/v1/messages/{message_id}"),
    Call("PATCH", "/api/v1/messages/{message_id}", {"body": "rewritten"}),
    Call("DELETE", "/api/v1/messages/{message_id}"),
    Call("GET", "/api/v1/messages/{message_id}/edits"),
    Call("PUT", "/api/v1/messages/{message_id}/reactions/{emoji}"),
    Call("DELETE", "/api/v1/messages/{message_id}/reactions/{emoji}"),
    Call("GET", "/api/v1/messages/{message_id}/thread"),
    Call("GET", "/api/v1/conversations/{conversation_id}/threads/{root_id}/messages"),
    Call("GET", "/api/v1/search", query={"q": "secret", "conversation_id": "{conversation_id}"}),
]

# Routes that take a conversation or message id but are someone else's to cover here.
NOT_IN_TABLE: set[str] = set()


def fill(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], text)


def filled_body(body: Any, values: dict[str, str]) -> Any:
    if isinstance(body, dict):
        return {k: filled_body(v, values) for k, v in body.items()}
    if isinstance(body, list):
        return [filled_body(v, values) for v in body]
    return fill(body, values) if isinstance(body, str) else body


def names_a_conversation_or_message(operation: dict[str, Any]) -> bool:
    named = {p["name"] for p in operation.get("parameters", [])}
    return bool(named & {"conversation_id", "message_id"})


async def test_the_table_covers_every_route(app: FastAPI) -> None:
    # The OpenAPI document lists every HTTP route, however routers are nested.
    routes = {
        f"{method.upper()} {path}"
        for path, operations in app.openapi()["paths"].items()
        for method, operation in operations.items()
        if names_a_conversation_or_message(operation)
    }
    covered = {
        f"{c.method} {c.path.replace('{me}', '{user_id}').replace('{target}', '{user_id}')}"
        for c in CALLS
    }
    missing = routes - covered - NOT_IN_TABLE
    assert not missing, f"add these routes to CALLS in tests/test_access.py: {sorted(missing)}"
    assert covered <= routes, f"CALLS names routes that do not exist: {sorted(covered - routes)}"


@dataclass
class Scene:
    company: Person  # the company's admin, not in the conversation
    owner: Person
    member: Person
    colleague: Person  # same company, not in the conversation
    stranger: Person  # another company's admin
    conversation: dict[str, Any]
    message: dict[str, Any]


async def scene(directory: Directory, kind: str) -> Scene:
    admin = await directory.company("Acme")
    owner = await directory.colleague(admin, "Owner")
    member = await directory.colleague(admin, "Member")
    colleague = await directory.colleague(admin, "Colleague")
    stranger = await directory.company("Elsewhere")
    title = None if kind == "direct" else "Inner circle"
    conversation = await directory.conversation(owner, kind, [member], title)
    message = await send(owner, conversation["id"], "secret plans")
    await send(member, conversation["id"], "a reply", thread_root_id=message["id"])
    await owner.patch(f"/api/v1/messages/{message['id']}", json={"body": "secret plans v2"})
    await member.put(f"/api/v1/messages/{message['id']}/reactions/👍")
    return Scene(admin, owner, member, colleague, stranger, conversation, message)


async def call_as(person: Person, call: Call, scene: Scene) -> Any:
    values = {
        "conversation_id": scene.conversation["id"],
        "message_id": scene.message["id"],
        "root_id": scene.message["id"],
        "target": scene.member.id,
        "me": person.id,
        "emoji": "👍",
    }
    kwargs: dict[str, Any] = {"headers": person.headers}
    if call.body is not None:
        kwargs["json"] = filled_body(call.body, values)
    if call.upload:
        kwargs["files"] = {"file": ("notes.txt", b"private notes", "text/plain")}
    if call.query is not None:
        kwargs["params"] = filled_body(call.query, values)
    return await person.client.request(call.method, fill(call.path, values), **kwargs)


@pytest.mark.parametrize("kind", ["direct", "group", "channel"])
async def test_outsiders_get_404_from_every_route_and_change_nothing(
    directory: Directory, settings: Settings, kind: str
) -> None:
    s = await scene(directory, kind)
    companies = [s.owner.company_id, s.stranger.company_id]
    before = await company_rows(settings.effective_migration_database_url, companies)
    outsiders = {"another company": s.stranger, "a colleague": s.colleague, "an admin": s.company}
    checked = 0
    for who, outsider in outsiders.items():
        for call in CALLS:
            joins_channel = call.body == {"user_ids": ["{me}"]} and kind == "channel"
            if joins_channel and outsider.company_id == s.owner.company_id:
                continue  # an open channel is joinable by the company: see test_conversations
            r = await call_as(outsider, call, s)
            assert r.status_code == 404, f"{call} as {who}: {r.status_code} {r.text}"
            error_of(r, 404, "not_found")
            checked += 1
    assert checked >= len(CALLS) * 3 - 2
    assert await company_rows(settings.effective_migration_database_url, companies) == before


async def test_the_same_calls_work_for_participants(directory: Directory) -> None:
    """The 404s above come from access rules, not from broken calls: a participant gets
    through every route of the table."""
    s = await scene(directory, "group")
    for call in CALLS:
        if call.method == "DELETE":
            continue  # removing and deleting are covered in their own suites
        r = await call_as(s.owner, call, s)
        if call.admins_only:
            error_of(r, 403, "admin_required")
            continue
        if call.channels_only:
            error_of(r, 422, "not_a_channel")
            continue
        assert r.status_code < 400, f"{call}: {r.status_code} {r.text}"


async def test_listings_never_show_other_peoples_conversations(directory: Directory) -> None:
    s = await scene(directory, "group")
    for outsider in (s.stranger, s.colleague, s.company):
        listed = (await outsider.get("/api/v1/conversations")).json()["conversations"]
        assert listed == []
    channels = (await s.stranger.get("/api/v1/channels")).json()["channels"]
    assert channels == []


async def test_search_never_finds_other_peoples_messages(directory: Directory) -> None:
    s = await scene(directory, "group")
    for outsider in (s.stranger, s.colleague, s.company):
        r = await outsider.get("/api/v1/search", params={"q": "secret"})
        assert r.status_code == 200, r.text
        assert r.json()["results"] == []
    r = await s.member.get("/api/v1/search", params={"q": "secret"})
    assert [x["message"]["id"] for x in r.json()["results"]] == [s.message["id"]]
