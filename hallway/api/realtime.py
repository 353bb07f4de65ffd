"""The WebSocket endpoint: authenticate, then route client frames to the hub.

Client frames: auth {token} (first), subscribe {conversation_id, after_seq?},
unsubscribe {conversation_id}, typing {conversation_id}, ping. See docs/realtime.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from hallway.domain.errors import Unauthenticated
from hallway.domain.tokens import authenticate
from hallway.realtime.connection import Connection
from hallway.realtime.frames import (
    CLOSE_PROTOCOL_ERROR,
    CLOSE_UNAUTHENTICATED,
    dumps,
    error_frame,
)
from hallway.realtime.hub import Hub

log = logging.getLogger(__name__)

AUTH_TIMEOUT_SECONDS = 10.0
# Clients send `typing` every few seconds while typing; repeats closer than this are dropped
# (kept below the 2 s clients are told to use, so network jitter never drops a real one).
TYPING_MIN_INTERVAL_SECONDS = 1.0
PONG = dumps({"type": "pong"})


def _parse(text: str) -> dict[str, Any] | None:
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return frame if isinstance(frame, dict) and isinstance(frame.get("type"), str) else None


async def realtime(websocket: WebSocket) -> None:
    """The endpoint, mounted as a plain Starlette route: FastAPI's dependency machinery would
    keep three exit stacks and a chain of suspended wrappers alive per idle connection."""
    hub: Hub = websocket.app.state.hub
    await websocket.accept()
    try:
        first = await asyncio.wait_for(websocket.receive_text(), AUTH_TIMEOUT_SECONDS)
    except (TimeoutError, WebSocketDisconnect):
        with contextlib.suppress(Exception):
            await websocket.close(CLOSE_UNAUTHENTICATED, "send an auth frame first")
        return
    frame = _parse(first)
    if frame is None or frame["type"] != "auth" or not isinstance(frame.get("token"), str):
        await websocket.close(CLOSE_UNAUTHENTICATED, "the first frame must be auth {token}")
        return
    try:
        actor = await authenticate(hub.ctx, frame["token"])
    except Unauthenticated as exc:
        await websocket.close(CLOSE_UNAUTHENTICATED, exc.code)
        return

    conn = Connection(websocket, actor, hub.settings.ws_send_queue_frames)
    # `ready` is the first frame; frames that attaching causes (presence) come after it.
    conn.send(
        dumps(
            {
                "type": "ready",
                "user": {"id": actor.user_id, "company_id": actor.company_id, "role": actor.role},
            }
        )
    )
    await hub.attach(conn)
    try:
        # No timeout around each receive (it would cost a task and a timer per connection):
        # the hub closes connections whose last frame is older than the idle timeout.
        while not conn.closed:
            text = await websocket.receive_text()
            conn.last_seen = time.monotonic()
            frame = _parse(text)
            if frame is None:
                conn.close(CLOSE_PROTOCOL_ERROR, "frames are JSON objects with a type")
                break
            await _handle(hub, conn, frame)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        await conn.stop()
        await hub.detach(conn)


async def _handle(hub: Hub, conn: Connection, frame: dict[str, Any]) -> None:
    kind = frame["type"]
    if kind == "ping":
        conn.send(PONG)
        return
    conversation_id = frame.get("conversation_id")
    if kind in ("subscribe", "unsubscribe", "typing") and (
        not isinstance(conversation_id, str) or not conversation_id
    ):
        conn.send(error_frame("invalid_frame", f"{kind} needs a conversation_id"))
        return
    assert isinstance(conversation_id, str) or kind not in ("subscribe", "unsubscribe", "typing")
    if kind == "subscribe":
        after_seq = frame.get("after_seq")
        if after_seq is not None and (
            not isinstance(after_seq, int) or isinstance(after_seq, bool) or after_seq < 0
        ):
            conn.send(
                error_frame(
                    "invalid_frame",
                    "after_seq must be a whole number >= 0",
                    conversation_id=conversation_id,
                )
            )
            return
        await hub.subscribe(conn, str(conversation_id), after_seq)
    elif kind == "unsubscribe":
        hub.unsubscribe(conn, str(conversation_id))
    elif kind == "typing":
        if conn.typing_allowed(str(conversation_id), TYPING_MIN_INTERVAL_SECONDS):
            await hub.typing(conn, str(conversation_id))
    elif kind == "auth":
        conn.send(error_frame("invalid_frame", "already authenticated"))
    else:
        conn.send(error_frame("unknown_frame", f"unknown frame type {kind!r}"))
