"""The API documents itself, and the health and readiness probes answer."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from hallway.domain.accounts import EMAIL_PATTERN
from hallway.domain.cursors import CURSOR_PATTERN
from hallway.domain.reactions import MAX_EMOJI_CHARS
from hallway.store.database import Database
from tests.support import Directory, error_of

pytestmark = pytest.mark.anyio


async def test_every_route_has_a_description(client: httpx.AsyncClient) -> None:
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    operations = [
        (method.upper(), path, operation)
        for path, methods in paths.items()
        for method, operation in methods.items()
    ]
    assert len(operations) >= 20
    undocumented = [
        f"{method} {path}"
        for method, path, operation in operations
        if len(operation.get("description", "").strip()) < 10
    ]
    assert undocumented == []


async def test_docs_page_answers(client: httpx.AsyncClient) -> None:
    r = await client.get("/docs")
    assert r.status_code == 200
    assert "swagger" in r.text.lower()


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    health = await client.get("/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = await client.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


async def test_readiness_fails_when_the_file_storage_cannot_store(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    root: Path = app.state.ctx.storage.root
    hidden = root.with_name(root.name + "-away")
    os.rename(root, hidden)  # the volume is gone
    try:
        error_of(await client.get("/readyz"), 503, "storage_unavailable")
    finally:
        os.rename(hidden, root)
    assert (await client.get("/readyz")).status_code == 200


async def test_readiness_fails_when_the_database_does_not_answer(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    working = app.state.ctx.db
    # Nothing listens on port 1: a database that is down.
    app.state.ctx.db = Database("postgresql+asyncpg://hallway@127.0.0.1:1/hallway")
    try:
        r = await client.get("/readyz")
        error = error_of(r, 503, "database_unavailable")
        assert "127.0.0.1" not in error["message"]
        assert (await client.get("/healthz")).status_code == 200
    finally:
        await app.state.ctx.db.dispose()
        app.state.ctx.db = working


async def _document(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    document: dict[str, Any] = r.json()
    return document


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


async def test_every_error_answer_has_the_error_body(client: httpx.AsyncClient) -> None:
    document = await _document(client)
    error_body = {"$ref": "#/components/schemas/ErrorBody"}
    wrong = [
        f"{method} {path} {status}"
        for method, path, operation in _operations(document)
        for status, response in operation["responses"].items()
        if status[0] in "45" and response["content"]["application/json"]["schema"] != error_body
    ]
    assert wrong == []
    schemas = document["components"]["schemas"]
    assert set(schemas["ErrorDetail"]["required"]) == {"code", "message", "details", "request_id"}
    # FastAPI's own 422 shape is never answered, so never documented.
    assert "HTTPValidationError" not in schemas


async def test_the_errors_that_follow_from_an_operations_shape_are_documented(
    client: httpx.AsyncClient,
) -> None:
    missing = []
    for method, path, operation in _operations(await _document(client)):
        documented = set(operation["responses"])
        expected = set()
        body = operation.get("requestBody", {}).get("content", {})
        if "application/json" in body:
            expected |= {"400", "413", "422"}
        if operation.get("security"):
            expected |= {"401", "404"}
        if operation.get("parameters") or body:
            expected.add("422")
        if any(p["in"] == "path" for p in operation.get("parameters", [])):
            expected.add("404")
        if expected - documented:
            missing.append(f"{method} {path}: {sorted(expected - documented)}")
    assert missing == []


async def test_routes_document_the_errors_of_their_own(client: httpx.AsyncClient) -> None:
    paths = (await _document(client))["paths"]
    reactions = "/api/v1/messages/{message_id}/reactions/{emoji}"
    assert {"409"} <= set(paths[reactions]["put"]["responses"])
    assert {"403", "409", "429"} <= set(
        paths["/api/v1/messages/{message_id}"]["patch"]["responses"]
    )
    assert "409" in paths["/api/v1/conversations"]["post"]["responses"]
    assert "401" in paths["/api/v1/auth/login"]["post"]["responses"]
    assert "403" in paths["/api/v1/invites"]["post"]["responses"]
    assert {"413", "415"} <= set(
        paths["/api/v1/conversations/{conversation_id}/attachments"]["post"]["responses"]
    )
    assert "503" in paths["/readyz"]["get"]["responses"]


def _parameter(operation: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in operation["parameters"] if p["name"] == name)
    return found


async def test_cursor_email_and_emoji_rules_are_in_the_schema(client: httpx.AsyncClient) -> None:
    document = await _document(client)
    paths = document["paths"]
    cursors = [
        _parameter(paths["/api/v1/conversations/{conversation_id}/messages"]["get"], "before"),
        _parameter(paths["/api/v1/conversations"]["get"], "cursor"),
        _parameter(paths["/api/v1/messages/{message_id}/thread"]["get"], "after"),
        _parameter(paths["/api/v1/search"]["get"], "cursor"),
    ]
    for cursor in cursors:
        assert cursor["schema"]["pattern"] == CURSOR_PATTERN
    schemas = document["components"]["schemas"]
    for request in ("SignupRequest", "JoinRequest"):
        assert schemas[request]["properties"]["email"]["pattern"] == EMAIL_PATTERN
    reactions = paths["/api/v1/messages/{message_id}/reactions/{emoji}"]
    for method in ("put", "delete"):
        emoji = _parameter(reactions[method], "emoji")["schema"]
        assert (emoji["minLength"], emoji["maxLength"]) == (1, MAX_EMOJI_CHARS)


@pytest.mark.parametrize("cursor", ["abc!", "YWJj\n", "a b", "seq|1", ""])
async def test_a_cursor_outside_the_documented_pattern_is_an_invalid_cursor(
    directory: Directory, cursor: str
) -> None:
    admin = await directory.company()
    r = await admin.get("/api/v1/conversations", params={"cursor": cursor})
    error_of(r, 422, "invalid_cursor")
