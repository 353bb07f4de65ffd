"""The realtime route as plain ASGI, under Starlette's TestClient: no server process, the same
protocol and close codes (hallway.api.realtime_route)."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient, WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from hallway.api.app import create_app
from hallway.config import Settings
from tests.support import Outbox, unique_email

REALTIME = "/api/v1/realtime"


def _signup(client: TestClient) -> dict[str, Any]:
    """A new company's admin: signed up, and the mailed link opened (the session)."""
    address = unique_email("admin")
    r = client.post(
        "/api/v1/auth/signup",
        json={
            "company_name": "Acme",
            "email": address,
            "password": "correct horse battery",
            "display_name": "Acme Admin",
        },
    )
    assert r.status_code == 202, r.text
    token = Outbox().confirmation_token(address)
    r = client.post("/api/v1/auth/confirm", json={"token": token})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def _send(ws: WebSocketTestSession, frame: dict[str, Any]) -> None:
    ws.send_text(orjson.dumps(frame).decode())


def _next(ws: WebSocketTestSession, *types: str) -> dict[str, Any]:
    """The next frame of one of these types (presence frames skipped)."""
    while True:
        frame: dict[str, Any] = orjson.loads(ws.receive_text())
        if frame["type"] in types:
            return frame


def _closed_with(ws: WebSocketTestSession) -> tuple[int, str]:
    with pytest.raises(WebSocketDisconnect) as closed:
        while True:
            ws.receive_text()
    return closed.value.code, closed.value.reason


def test_the_test_client_subscribes_sends_and_gets_live_events(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        admin = _signup(client)
        headers = {"Authorization": f"Bearer {admin['access_token']}"}
        conversation = client.post(
            "/api/v1/conversations",
            json={"kind": "channel", "title": "asgi", "member_ids": []},
            headers=headers,
        ).json()
        cid = conversation["id"]
        with client.websocket_connect(REALTIME) as ws:
            _send(ws, {"type": "auth", "token": admin["access_token"]})
            assert _next(ws, "ready")["user"]["id"] == admin["user"]["id"]
            _send(ws, {"type": "subscribe", "conversation_id": cid})
            assert _next(ws, "subscribed")["conversation_id"] == cid
            _send(ws, {"type": "send", "ref": "r1", "conversation_id": cid, "body": "over ASGI"})
            # A subscriber on the sending socket gets the event before the answer.
            event = _next(ws, "event", "sent")
            assert event["type"] == "event" and event["data"]["body"] == "over ASGI"
            sent = _next(ws, "sent")
            assert sent["ref"] == "r1" and sent["message"]["seq"] == event["seq"]
            posted = client.post(
                f"/api/v1/conversations/{cid}/messages", json={"body": "over HTTP"}, headers=headers
            )
            assert posted.status_code == 201, posted.text
            live = _next(ws, "event")
            assert live["data"]["body"] == "over HTTP" and live["seq"] == event["seq"] + 1
            _send(ws, {"type": "ping"})
            assert _next(ws, "pong") == {"type": "pong"}


def test_the_test_client_gets_the_close_codes(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        token = _signup(client)["access_token"]
        with client.websocket_connect(REALTIME) as ws:
            _send(ws, {"type": "auth", "token": "not a token"})
            assert _closed_with(ws)[0] == 4401
        with client.websocket_connect(REALTIME) as ws:
            ws.send_bytes(b'{"type": "ping"}')
            assert _closed_with(ws) == (4000, "frames are JSON text")
        with client.websocket_connect(REALTIME) as ws:
            _send(ws, {"type": "auth", "token": token})
            _next(ws, "ready")
            ws.send_text("x" * (64 * 1024 + 1))
            assert _closed_with(ws)[0] == 1009
        with client.websocket_connect(REALTIME) as ws:
            _send(ws, {"type": "auth", "token": token})
            _next(ws, "ready")
            ws.send_text("[]")
            assert _closed_with(ws)[0] == 4000


def test_the_route_logs_each_socket_at_its_end(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.INFO, logger="hallway.sockets"),
        TestClient(create_app(settings)) as client,
    ):
        admin = _signup(client)
        with client.websocket_connect(REALTIME) as ws:
            _send(ws, {"type": "auth", "token": admin["access_token"]})
            _next(ws, "ready")
            ws.send_text("[]")
            assert _closed_with(ws)[0] == 4000
        with client.websocket_connect(REALTIME) as ws:
            _send(ws, {"type": "auth", "token": admin["access_token"]})
            _next(ws, "ready")
            ws.close(1001)
    lines = [r.__dict__ for r in caplog.records if r.name == "hallway.sockets"]
    assert [(x["close_code"], x["closed_by"]) for x in lines] == [
        (4000, "server"),
        (1001, "client"),
    ]
    assert lines[0]["close_reason"] == "frames are JSON objects with a type"
    assert all(x["user_id"] == admin["user"]["id"] for x in lines)
    assert [(x["frames_in"], x["frames_out"]) for x in lines] == [(2, 1), (1, 1)]
    assert admin["access_token"] not in caplog.text
