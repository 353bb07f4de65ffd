"""The API documents itself, and the health and readiness probes answer."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from hallway.store.database import Database
from tests.support import error_of

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
