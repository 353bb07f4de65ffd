"""The realtime half of the client: one WebSocket that reconnects and resumes by seq.

Frames come out of `next_frame()` in arrival order; `event` frames are de-duplicated and kept
in seq order per conversation, so across any number of reconnects an application sees every
event exactly once. `state` is the connection state a UI shows:
connecting -> live -> reconnecting -> live ... -> offline (closed, or the token was refused).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from typing import Any, Literal

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

log = logging.getLogger(__name__)

State = Literal["connecting", "live", "reconnecting", "offline"]

CLOSE_UNAUTHENTICATED = 4401


class RealtimeClient:
    def __init__(
        self,
        url: str,
        token: str,
        *,
        ping_interval: float = 15.0,
        max_backoff: float = 5.0,
        on_state: Callable[[State], None] | None = None,
        compression: bool = False,
    ) -> None:
        self.url = url
        self.token = token
        self.ping_interval = ping_interval
        self.max_backoff = max_backoff
        self.on_state = on_state
        self.compression = compression
        self.state: State = "connecting"
        self.last_seq: dict[str, int] = {}  # conversations we follow -> newest seq seen
        self.reconnects = 0
        self.close_code: int | None = None
        self._frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        # Requests waiting for their answer: subscribes by conversation_id, sends by ref.
        self._answers: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._sends: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._refs = 0
        self._ws: ClientConnection | None = None
        self._runner: asyncio.Task[None] | None = None
        self._live = asyncio.Event()
        self._closing = False

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self, timeout: float = 10.0) -> None:
        """Connect and wait until the connection is live."""
        self._runner = asyncio.create_task(self._run())
        await self.wait_live(timeout)

    async def wait_live(self, timeout: float = 10.0) -> None:
        live = asyncio.create_task(self._live.wait())
        done, _ = await asyncio.wait(
            {live, self._runner or live}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if live not in done:
            live.cancel()
            raise ConnectionError(f"realtime connection not live (state {self.state})")

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._runner
        self._set_state("offline")

    def is_connected(self) -> bool:
        return self._ws is not None and self.state == "live"

    async def drop(self) -> None:
        """Cut the transport as a network failure would (tests use this); it reconnects."""
        if self._ws is not None:
            self._ws.transport.abort()

    # --- requests ----------------------------------------------------------------------

    async def subscribe(
        self, conversation_id: str, after_seq: int | None = None, timeout: float = 10.0
    ) -> dict[str, Any]:
        """Follow a conversation from now, or with after_seq from just after that seq.
        Returns the server's answer: the `subscribed` frame, or an `error` frame."""
        if after_seq is not None:
            self.last_seq[conversation_id] = after_seq
        else:
            self.last_seq.setdefault(conversation_id, -1)
        answer = asyncio.get_running_loop().create_future()
        self._answers[conversation_id] = answer
        await self._send_subscribe(conversation_id)
        try:
            return await asyncio.wait_for(answer, timeout)
        finally:
            self._answers.pop(conversation_id, None)

    async def unsubscribe(self, conversation_id: str) -> None:
        self.last_seq.pop(conversation_id, None)
        await self._send({"type": "unsubscribe", "conversation_id": conversation_id})

    async def typing(self, conversation_id: str) -> None:
        await self._send({"type": "typing", "conversation_id": conversation_id})

    async def send_message(
        self, conversation_id: str, body: str, timeout: float = 10.0, **fields: Any
    ) -> dict[str, Any]:
        """Send a message over the socket (`fields`: client_msg_id, attachment_ids,
        thread_root_id). Returns the server's answer: the `sent` frame, or an `error` frame.
        Raises ConnectionError when the connection is lost first: the message may or may
        not be stored, so send it again with the same client_msg_id."""
        if not self.is_connected():
            raise ConnectionError(f"realtime connection not live (state {self.state})")
        self._refs += 1
        ref = f"send-{self._refs}"
        answer = asyncio.get_running_loop().create_future()
        self._sends[ref] = answer
        frame = {"type": "send", "ref": ref, "conversation_id": conversation_id, "body": body}
        try:
            await self._send({**frame, **fields})
            return await asyncio.wait_for(answer, timeout)
        finally:
            self._sends.pop(ref, None)

    async def next_frame(self, timeout: float = 10.0) -> dict[str, Any]:
        return await asyncio.wait_for(self._frames.get(), timeout)

    async def next_event(self, timeout: float = 10.0) -> dict[str, Any]:
        """The next durable event (other frames received meanwhile are skipped)."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self._frames.get()
                if frame["type"] == "event":
                    return frame

    # --- internals ---------------------------------------------------------------------

    def _set_state(self, state: State) -> None:
        if state != self.state:
            self.state = state
            if self.on_state is not None:
                self.on_state(state)

    async def _send(self, frame: dict[str, Any]) -> None:
        if self._ws is not None and self.state == "live":
            with contextlib.suppress(ConnectionClosed):
                await self._ws.send(orjson.dumps(frame).decode())

    async def _send_subscribe(self, conversation_id: str) -> None:
        frame: dict[str, Any] = {"type": "subscribe", "conversation_id": conversation_id}
        seen = self.last_seq.get(conversation_id, -1)
        if seen >= 0:
            frame["after_seq"] = seen
        await self._send(frame)

    async def _run(self) -> None:
        backoff = 0.1
        while not self._closing:
            try:
                await self._session()
            except (OSError, ConnectionClosed, TimeoutError) as exc:
                log.debug("realtime connection lost: %s", exc)
            if self._live.is_set():
                backoff = 0.1  # a connection that got going starts the back-off afresh
            if self.close_code == CLOSE_UNAUTHENTICATED or self._closing:
                break
            self._live.clear()
            self._set_state("reconnecting")
            self.reconnects += 1
            await asyncio.sleep(backoff * (0.5 + random.random()))
            backoff = min(backoff * 2, self.max_backoff)
        self._set_state("offline")

    async def _session(self) -> None:
        compression = "deflate" if self.compression else None
        async with connect(
            self.url, compression=compression, max_size=2**22, open_timeout=10, ping_interval=None
        ) as ws:
            self._ws = ws
            self.close_code = None
            try:
                await ws.send(orjson.dumps({"type": "auth", "token": self.token}).decode())
                ready = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
                if ready.get("type") != "ready":
                    raise ConnectionError(f"expected ready, got {ready}")
                self._set_state("live")
                for conversation_id in list(self.last_seq):
                    await self._send_subscribe(conversation_id)
                self._live.set()
                pinger = asyncio.create_task(self._ping_forever(ws))
                try:
                    await self._read(ws)
                finally:
                    pinger.cancel()
            finally:
                self.close_code = ws.close_code
                self._ws = None
                for answer in self._sends.values():
                    if not answer.done():
                        answer.set_exception(ConnectionError("connection lost before the answer"))

    async def _ping_forever(self, ws: ClientConnection) -> None:
        ping = orjson.dumps({"type": "ping"}).decode()
        while True:
            await asyncio.sleep(self.ping_interval)
            await ws.send(ping)

    async def _read(self, ws: ClientConnection) -> None:
        # No frame (not even a pong) for two ping intervals: the link is dead; reconnect.
        silence = self.ping_interval * 2 + 5
        while True:
            raw = await asyncio.wait_for(ws.recv(), silence)
            frame = orjson.loads(raw)
            kind = frame.get("type")
            if kind == "pong":
                continue
            if kind == "event":
                if not await self._accept_event(frame):
                    continue
            elif kind == "resync":
                self.last_seq[frame["conversation_id"]] = frame["last_seq"]
            elif kind == "subscribed":
                conversation_id = frame["conversation_id"]
                if self.last_seq.get(conversation_id, -1) < 0:
                    self.last_seq[conversation_id] = frame["last_seq"]
                self._answer(self._answers, conversation_id, frame)
            elif kind in ("sent", "error") and "ref" in frame:
                self._answer(self._sends, frame["ref"], frame)
            elif kind == "error" and "conversation_id" in frame:
                if frame["code"] == "not_found":
                    self.last_seq.pop(frame["conversation_id"], None)
                self._answer(self._answers, frame["conversation_id"], frame)
            self._frames.put_nowait(frame)

    @staticmethod
    def _answer(
        waiting: dict[str, asyncio.Future[dict[str, Any]]], key: str, frame: dict[str, Any]
    ) -> None:
        answer = waiting.get(key)
        if answer is not None and not answer.done():
            answer.set_result(frame)

    async def _accept_event(self, frame: dict[str, Any]) -> bool:
        conversation_id, seq = frame["conversation_id"], frame["seq"]
        seen = self.last_seq.get(conversation_id)
        if seen is None:
            return False  # unsubscribed meanwhile
        if seq <= seen:
            return False  # already delivered (a replay overlapping live delivery)
        if seen >= 0 and seq != seen + 1:
            # A hole the server should never leave; ask it to replay from what we have.
            log.warning("seq gap in %s: had %s, got %s; resubscribing", conversation_id, seen, seq)
            await self._send_subscribe(conversation_id)
            return False
        self.last_seq[conversation_id] = seq
        return True
