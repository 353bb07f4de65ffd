"""DirectRoute answers every request exactly as FastAPI's own route would (status, error
code, the fields named), documents itself the same, and refuses endpoints it cannot serve."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from fastapi import Depends, FastAPI, Header, Response
from fastapi.routing import APIRoute
from hypothesis import given
from hypothesis import strategies as st

from hallway.api.app import create_app
from hallway.api.deps import Ctx, CurrentActor
from hallway.api.direct_route import DirectRoute
from hallway.api.routes import messages
from hallway.config import Settings
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

TWIN = "/twin"  # FastAPI's own APIRoute for each DirectRoute's endpoint lives here


def _twins() -> list[APIRoute]:
    twins = []
    for route in messages.direct_router.routes:
        assert isinstance(route, DirectRoute)
        twins.append(
            APIRoute(
                TWIN + route.path,
                route.endpoint,
                methods=list(route.methods or ()),
                status_code=route.status_code,
                response_model=route.response_model,
                responses=route.responses,
                tags=route.tags,
            )
        )
    return twins


def _app_with_twins(settings: Settings) -> FastAPI:
    app = create_app(settings)
    # First: the web client's mount at / would take GETs outside /api/.
    app.router.routes[0:0] = _twins()
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
    auth = {"good": headers, "none": {}, "bad": {"Authorization": "Bearer nope"}}

    def compare(content: bytes, who: str, content_type: str | None) -> None:
        sent_headers = dict(auth[who])
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
        for who in auth:
            for content_type in CONTENT_TYPES:
                compare(raw, who, content_type)

    @FUZZ
    @given(
        body=bodies_with(MESSAGE_FIELDS),
        who=st.sampled_from(sorted(auth)),
        content_type=st.sampled_from(CONTENT_TYPES),
    )
    def check(body: Any, who: str, content_type: str | None) -> None:
        compare(httpx.Request("POST", "/", json=body).content, who, content_type)

    check()


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
    )
    def check(params: dict[str, str], conversation_id: str) -> None:
        answers = [
            call(
                "GET",
                f"{prefix}/conversations/{conversation_id}/messages",
                params=params,
                headers=headers,
            )
            for prefix in ("/api/v1", TWIN + "/api/v1")
        ]
        assert _gist(answers[0]) == _gist(answers[1]), (answers[0].text, answers[1].text)

    check()


def test_direct_routes_are_documented_like_their_twins(settings: Settings) -> None:
    document = _app_with_twins(settings).openapi()
    for route in messages.direct_router.routes:
        assert isinstance(route, DirectRoute)
        for method in route.methods or ():
            direct = dict(document["paths"][route.path][method.lower()])
            twin = dict(document["paths"][TWIN + route.path][method.lower()])
            direct.pop("operationId"), twin.pop("operationId")
            assert direct == twin


async def _needs_a_header(
    ctx: Ctx, actor: CurrentActor, x_trace: Annotated[str, Header()]
) -> Response:
    return Response()


async def _answers_a_dict(ctx: Ctx) -> dict[str, str]:
    return {}


def _own_dependency() -> str:
    return "x"


async def _has_its_own_dependency(value: Annotated[str, Depends(_own_dependency)]) -> Response:
    return Response()


@pytest.mark.parametrize("endpoint", [_needs_a_header, _answers_a_dict, _has_its_own_dependency])
def test_endpoints_it_cannot_serve_exactly_are_refused_at_build_time(endpoint: Any) -> None:
    with pytest.raises(TypeError, match="DirectRoute /x"):
        DirectRoute("/x", endpoint, methods=["GET"])
