"""/api/v1/realtime as an ordinary ASGI WebSocket route, so that any ASGI server (`uvicorn
--factory hallway.api.app:create_app`, hypercorn) and Starlette's TestClient serve realtime.

It runs the same RealtimeSession as `hallway serve`'s own protocol
(hallway.api.realtime_protocol), and costs more: each frame to each subscriber is an ASGI
message sent by a task, and each socket keeps its endpoint's task and the server's receive
queue while idle (docs/realtime.md, "Serving").
"""

from __future__ import annotations

import asyncio
from collections import deque

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from hallway.api.realtime import MAX_CLIENT_FRAME_BYTES, REALTIME_PATH, RealtimeSession
from hallway.api.socket_log import (
    CLOSE_ABNORMAL,
    LOST,
    SocketEnd,
    closed_by_client,
    closed_by_server,
)
from hallway.realtime.frames import CLOSE_PROTOCOL_ERROR
from hallway.realtime.hub import Hub

CLOSE_TOO_BIG = 1009
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_NO_STATUS = 1005  # RFC 6455: a close frame without a code
# A replay waiting for room (FrameSink.drained) goes on once this little is still queued, so
# the queue never runs dry between its frames.
LOW_WATER_CHARS = 64 * 1024
# What the ASGI server raises when a send meets a socket that is gone: Starlette's
# WebSocketDisconnect, its RuntimeError for a socket it knows is closed, or the server's
# OSError.
_GONE = (WebSocketDisconnect, RuntimeError, OSError)


class AsgiSocket:
    """A FrameSink with read control over an ASGI WebSocket. Frames wait in a queue, and a
    task sends them while there are any, so the hub's writes never wait; the queue's size
    (in characters: a frame's bytes are about as many) is what counts as unread for the
    slow-consumer limit. A close goes out after the frames queued before it."""

    __slots__ = (
        "_close",
        "_gone",
        "_outbox",
        "_outbox_chars",
        "_readable",
        "_room",
        "_sender",
        "_websocket",
    )

    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket
        self._outbox: deque[str] = deque()
        self._outbox_chars = 0
        self._close: tuple[int, str] | None = None
        self._gone = False  # the client is gone, or our close went out
        self._sender: asyncio.Task[None] | None = None
        self._room: asyncio.Event | None = None  # set when the queue falls to LOW_WATER_CHARS
        self._readable = asyncio.Event()
        self._readable.set()

    # --- FrameSink -------------------------------------------------------------------------

    def write_text(self, frame: str) -> None:
        if self._close is not None or self._gone:
            return
        self._outbox.append(frame)
        self._outbox_chars += len(frame)
        self._start_sending()

    def buffered_bytes(self) -> int:
        return self._outbox_chars

    async def drained(self) -> None:
        while self._outbox_chars > LOW_WATER_CHARS and not self._gone:
            if self._room is None:
                self._room = asyncio.Event()
            await self._room.wait()

    def send_close(self, code: int, reason: str) -> None:
        if self._close is None and not self._gone:
            self._close = (code, reason)
            self._start_sending()

    @property
    def closing(self) -> bool:
        return self._close is not None or self._gone

    # --- ReadControl -----------------------------------------------------------------------

    def pause_reading(self) -> None:
        self._readable.clear()

    def resume_reading(self) -> None:
        self._readable.set()

    async def readable(self) -> None:
        await self._readable.wait()

    # --- the sending task ------------------------------------------------------------------

    def _start_sending(self) -> None:
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._send_queued())

    async def _send_queued(self) -> None:
        websocket = self._websocket
        try:
            while self._outbox:
                frame = self._outbox[0]
                await websocket.send_text(frame)
                self._outbox.popleft()
                self._outbox_chars -= len(frame)
                if self._room is not None and self._outbox_chars <= LOW_WATER_CHARS:
                    self._room.set()
                    self._room = None
            if self._close is not None:
                self._gone = True
                # A reader paused by the session must see the client's answer to the close.
                self._readable.set()
                await websocket.close(*self._close)
        except _GONE:
            self.ended()
        finally:
            self._sender = None

    def ended(self) -> None:
        """The client is gone: drop what is queued and let every waiter go."""
        self._gone = True
        self._outbox.clear()
        self._outbox_chars = 0
        self._readable.set()
        if self._room is not None:
            self._room.set()
            self._room = None

    def how_it_ended(self, client_code: int | None) -> SocketEnd:
        """The close that ended the socket: ours if we sent one, else the client's (its code
        as the server reported it; None: the server reported none)."""
        if self._close is not None:
            return closed_by_server(*self._close)
        if client_code is None or client_code == CLOSE_ABNORMAL:
            return LOST
        return closed_by_client(client_code)

    async def finish(self) -> None:
        """Wait for the sending task, if one is running (a close may still be going out)."""
        if self._sender is not None:
            await asyncio.wait([self._sender])


async def realtime_endpoint(websocket: WebSocket) -> None:
    hub: Hub | None = getattr(websocket.app.state, "hub", None)
    await websocket.accept()
    if hub is None:  # the app's lifespan did not run
        await websocket.close(CLOSE_TRY_AGAIN_LATER, "realtime is not running")
        return
    socket = AsgiSocket(websocket)
    session = RealtimeSession(hub, socket)
    client_code: int | None = None
    try:
        while True:
            await socket.readable()
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                client_code = message.get("code", CLOSE_NO_STATUS)
                break
            text = message.get("text")
            if socket.closing:
                continue  # the client's frames in flight after our close are dropped
            if text is None:
                socket.send_close(CLOSE_PROTOCOL_ERROR, "frames are JSON text")
            elif len(text.encode()) > MAX_CLIENT_FRAME_BYTES:
                socket.send_close(CLOSE_TOO_BIG, "frames are at most 64 KiB")
            else:
                session.received(text)
    except _GONE:
        pass  # the server says the client is gone
    finally:
        socket.ended()
        session.ended(socket.how_it_ended(client_code))
        await socket.finish()


def realtime_route() -> WebSocketRoute:
    return WebSocketRoute(REALTIME_PATH, realtime_endpoint, name="realtime")
