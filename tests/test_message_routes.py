"""The send and the history window read their requests themselves
(hallway/api/parsed_request.py) and answer every request exactly as the same routes would
with FastAPI's declared parameters (status, error code, the fields named), and document
the same parameters, body and security."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import httpx
import orjson
import pytest
from fastapi import FastAPI, Query, Response, status
from fastapi.routing import APIRoute
from hypothesis import given
from hypothesis import strategies as st

from hallway.api.app import create_app
from hallway.api.deps import Ctx, CurrentActor
from hallway.api.routes import messages
from hallway.api.schemas import CURSOR_DESCRIPTION, CURSOR_RULE, SendMessageRequest
from hallway.config import Settings
from hallway.domain import message_history, message_send
from tests.fuzz_support import (
    FUZZ,
    MESSAGE_FIELDS,
    Call,
    bodies_with,
    calling,
    group_with,
    json_values,
    signed_up,
    texts,
)

TWIN = "/twin"  # the same routes with FastAPI's declared parameters live here
MESSAGES_PATH = "/api/v1/conversations/{conversation_id}/messages"


async def _send_with_declared_body(
    conversation_id: str, body: SendMessageRequest, ctx: Ctx, actor: CurrentActor
) -> Response:
    message, created = await message_send.send_message(
        ctx,
        actor,
        conversation_id,
        body=body.body,
        client_msg_id=body.client_msg_id,
        attachment_ids=body.attachment_ids,
        thread_root_id=body.thread_root_id,
    )
    return Response(
        orjson.dumps(message, option=orjson.OPT_UTC_Z),
        status_code=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        media_type="application/json",
    )


async def _window_with_declared_parameters(
    conversation_id: str,
    ctx: Ctx,
    actor: CurrentActor,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before: Annotated[
        str | None,
        # The window's own parameters carry the rule in the schema, not on the parameter.
        Query(max_length=200, json_schema_extra={**CURSOR_RULE, "description": CURSOR_DESCRIPTION}),
    ] = None,
) -> Response:
    page = await message_history.message_page(
        ctx, actor, conversation_id, limit=limit, before=before
    )
    answer = {
        "messages": page.messages,
        "next_cursor": page.next_cursor,
        "has_more": page.has_more,
        "last_seq": page.last_seq,
    }
    return Response(orjson.dumps(answer, option=orjson.OPT_UTC_Z), media_type="application/json")


TWINS: dict[str, Callable[..., Any]] = {
    "POST": _send_with_declared_body,
    "GET": _window_with_declared_parameters,
}


def _route(method: str) -> APIRoute:
    (route,) = [
        r
        for r in messages.router.routes
        if isinstance(r, APIRoute) and r.path == MESSAGES_PATH and r.methods == {method}
    ]
    return route


def _app_with_twins(settings: Settings) -> FastAPI:
    app = create_app(settings)
    twins = []
    for method, endpoint in TWINS.items():
        route = _route(method)
        twins.append(
            APIRoute(
                TWIN + route.path,
                endpoint,
                methods=[method],
                status_code=route.status_code,
                response_model=route.response_model,
                responses=route.responses,
                tags=route.tags,
            )
        )
    # First: the web client's mount at / would take requests outside /api/.
    app.router.routes[0:0] = twins
    return app


@pytest.fixture
def call(settings: Settings) -> Iterator[Call]:
    with calling(_app_with_twins(settings)) as request:
        yield request


def _gist(response: httpx.Response) -> tuple[Any, ...]:
    """What must agree: the status, and for an error its code and the fields it names; for
    a message, its shape."""
    body = response.json()
    if response.status_code >= 400:
        error = body["error"]
        fields = sorted(f["field"] for f in error["details"].get("fields", []))
        return response.status_code, error["code"], fields
    if "messages" in body:
        return response.status_code, sorted(body), len(body["messages"]), body["has_more"]
    return response.status_code, sorted(body), body["body"], body["client_msg_id"]


CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/vnd.hallway+json",
    "text/plain",
    "application/x-www-form-urlencoded",
    None,
]
RAW_BODIES = [
    b"",
    b"{",
    b"[]",
    b'{"body": "x"} trailing',
    b'{"body": NaN}',
    b'{"body": "x", "body": "y"}',
    b"\xff\xfe",
    # json reads these, pydantic's parser does not: a byte order mark, UTF-16, a lone surrogate
    b'\xef\xbb\xbf{"body": "x"}',
    '{"body": "x"}'.encode("utf-16"),
    b'{"body": "\\ud800"}',
]


def test_sends_answer_as_fastapi_would(call: Call) -> None:
    headers, colleague, first = signed_up(call)
    # Each side sends into its own conversation, so one side's client_msg_id never makes
    # the other's send a repeat.
    second = group_with(call, headers, colleague)

    def compare(content: bytes, content_type: str | None) -> None:
        sent_headers = dict(headers)
        if content_type is not None:
            sent_headers["Content-Type"] = content_type
        answers = [
            call(
                "POST",
                f"{prefix}/conversations/{conversation}/messages",
                content=content,
                headers=sent_headers,
            )
            for prefix, conversation in (("/api/v1", first), (TWIN + "/api/v1", second))
        ]
        assert _gist(answers[0]) == _gist(answers[1]), (answers[0].text, answers[1].text)

    for raw in RAW_BODIES:
        for content_type in CONTENT_TYPES:
            compare(raw, content_type)

    @FUZZ
    @given(body=bodies_with(MESSAGE_FIELDS), content_type=st.sampled_from(CONTENT_TYPES))
    def check(body: Any, content_type: str | None) -> None:
        compare(httpx.Request("POST", "/", json=body).content, content_type)

    check()


def test_a_send_without_a_valid_token_is_refused_whatever_its_body(call: Call) -> None:
    """The token is checked before the body is read: 401, and nothing about the body."""
    _, _, conversation = signed_up(call)
    for auth in ({}, {"Authorization": "Bearer nope"}):
        for raw in RAW_BODIES:
            r = call(
                "POST",
                f"/api/v1/conversations/{conversation}/messages",
                content=raw,
                headers={**auth, "Content-Type": "application/json"},
            )
            assert r.status_code == 401, r.text


def test_history_windows_answer_as_fastapi_would(call: Call) -> None:
    headers, _, conversation = signed_up(call)
    for k in range(3):
        call(
            "POST",
            f"/api/v1/conversations/{conversation}/messages",
            json={"body": f"m{k}"},
            headers=headers,
        )

    @FUZZ
    @given(
        # httpx refuses a query over 64 KiB before anything is sent: keep under it.
        params=st.dictionaries(
            st.sampled_from(["limit", "before", "other"]),
            texts | json_values.map(str) | st.integers(-5, 200).map(str),
            max_size=3,
        ).filter(lambda params: len(urlencode(params)) < 60_000),
        conversation_id=st.just(conversation) | texts.filter(bool).map(lambda t: quote(t, safe="")),
        who=st.sampled_from(["good", "none", "bad"]),
    )
    def check(params: dict[str, str], conversation_id: str, who: str) -> None:
        auth = {"good": headers, "none": {}, "bad": {"Authorization": "Bearer nope"}}[who]
        answers = [
            call(
                "GET",
                f"{prefix}/conversations/{conversation_id}/messages",
                params=params,
                headers=auth,
            )
            for prefix in ("/api/v1", TWIN + "/api/v1")
        ]
        assert _gist(answers[0]) == _gist(answers[1]), (answers[0].text, answers[1].text)

    check()


@pytest.mark.parametrize("method", sorted(TWINS))
def test_the_routes_are_documented_like_their_twins(settings: Settings, method: str) -> None:
    document = _app_with_twins(settings).openapi()
    operation = dict(document["paths"][MESSAGES_PATH][method.lower()])
    twin = dict(document["paths"][TWIN + MESSAGES_PATH][method.lower()])
    for key in ("operationId", "summary", "description"):  # named after the endpoints
        operation.pop(key), twin.pop(key, None)
    if method == "POST":
        # The twin's body names the model's schema; the route carries the schema itself.
        twin_body, body = twin.pop("requestBody"), operation.pop("requestBody")
        assert twin_body["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/SendMessageRequest"
        }
        schema = document["components"]["schemas"]["SendMessageRequest"]
        assert body == {"required": True, "content": {"application/json": {"schema": schema}}}
    assert operation == twin
