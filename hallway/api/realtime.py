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
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from hallway.domain.errors import Unauthenticated
from hallway.domain.tokens import authenticate
from hallway.realtime.connection import Connection
from hallway.realtime.frames import (
    CLOSE_IDLE,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_UNAUTHENTICATED,
    dumps,
    error_frame,
)
from hallway.realtime.hub import Hub

log = logging.getLogger(__name__)

router = APIRouter()

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


@router.websocket("/realtime")
async def realtime(websocket: WebSocket) -> None:
    hub: Hub = websocket.app.state.hub
    settings = hub.settings
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

    conn = Connection(websocket, actor, settings.ws_send_queue_frames)
    conn.start()
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
    last_typing: dict[str, float] = {}
    try:
        while not conn.closed:
            try:
                text = await asyncio.wait_for(
                    websocket.receive_text(), settings.ws_idle_timeout_seconds
                )
            except TimeoutError:
                conn.close(CLOSE_IDLE, "no frame within the idle timeout; send ping")
                break
            frame = _parse(text)
            if frame is None:
                conn.close(CLOSE_PROTOCOL_ERROR, "frames are JSON objects with a type")
                break
            await _handle(hub, conn, frame, last_typing)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        await conn.stop()
        await hub.detach(conn)


async def _handle(
    hub: Hub, conn: Connection, frame: dict[str, Any], last_typing: dict[str, float]
) -> None:
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
        now = time.monotonic()
        if now - last_typing.get(str(conversation_id), 0.0) >= TYPING_MIN_INTERVAL_SECONDS:
            last_typing[str(conversation_id)] = now
            await hub.typing(conn, str(conversation_id))
    elif kind == "auth":
        conn.send(error_frame("invalid_frame", "already authenticated"))
    else:
        conn.send(error_frame("unknown_frame", f"unknown frame type {kind!r}"))
