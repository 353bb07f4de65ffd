"""Every answer names its request (X-Request-Id, and inside error bodies); with the access log
on, one line per request under that id, without query strings."""

from __future__ import annotations

import logging
import sys

import orjson
import pytest

from hallway.logs import JsonFormatter
from tests.support import Directory, error_of, running_app, settings_from_env

pytestmark = pytest.mark.anyio


async def test_every_answer_has_an_id_and_a_short_given_one_is_kept(
    directory: Directory,
) -> None:
    first = await directory.client.get("/healthz")
    second = await directory.client.get("/healthz")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    given = await directory.client.get("/healthz", headers={"X-Request-Id": "lb-7f3a:0001"})
    assert given.headers["x-request-id"] == "lb-7f3a:0001"
    for unfit in ("x" * 65, "has space", "semi;colon"):
        r = await directory.client.get("/healthz", headers={"X-Request-Id": unfit})
        assert r.headers["x-request-id"] not in (unfit, "")
    missing = await directory.client.get(
        "/api/v1/me", headers={"X-Request-Id": "trace-42", "Authorization": "Bearer nonsense"}
    )
    error_of(missing, 401)  # checks the body's request_id against the header
    assert missing.headers["x-request-id"] == "trace-42"


async def test_the_access_log_is_a_line_per_request_without_the_query(
    env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    async with running_app(settings_from_env(env, access_log=True)) as (_app, client):
        with caplog.at_level(logging.INFO, logger="hallway.requests"):
            r = await client.get("/healthz?sig=secret-signature", headers={"X-Request-Id": "r-1"})
            bad = await client.post("/api/v1/auth/login", json={"email": "x"})
    assert r.status_code == 200 and bad.status_code == 422
    lines = [record for record in caplog.records if record.name == "hallway.requests"]
    assert [(x.method, x.path, x.status) for x in lines] == [  # type: ignore[attr-defined]
        ("GET", "/healthz", 200),
        ("POST", "/api/v1/auth/login", 422),
    ]
    assert lines[0].request_id == "r-1"  # type: ignore[attr-defined]
    assert lines[1].request_id == bad.headers["x-request-id"]  # type: ignore[attr-defined]
    assert all(x.duration_ms >= 0 for x in lines)  # type: ignore[attr-defined]
    assert "secret-signature" not in caplog.text


async def test_without_the_access_log_no_line_is_written(
    env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_from_env(env, access_log=False)
    async with running_app(settings) as (_app, client):
        with caplog.at_level(logging.INFO, logger="hallway.requests"):
            assert (await client.get("/healthz")).status_code == 200
    assert [r for r in caplog.records if r.name == "hallway.requests"] == []


def test_json_lines_carry_the_fields_a_line_was_given() -> None:
    formatter = JsonFormatter()
    record = logging.LogRecord(
        "hallway.requests", logging.INFO, __file__, 1, "GET %s", ("/x",), None
    )
    record.request_id, record.status = "r-9", 200
    line = orjson.loads(formatter.format(record))
    assert line["message"] == "GET /x" and line["level"] == "info"
    assert (line["logger"], line["request_id"], line["status"]) == ("hallway.requests", "r-9", 200)
    assert "args" not in line and "msg" not in line
    try:
        raise ValueError("boom")
    except ValueError:
        failed = logging.LogRecord("hallway", logging.ERROR, __file__, 1, "x", (), sys.exc_info())
    assert "ValueError: boom" in orjson.loads(formatter.format(failed))["exception"]
