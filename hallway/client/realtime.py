"""The realtime half of the client: one WebSocket that reconnects and resumes by seq.

Frames come out of `next_frame()` in arrival order; `event` frames are de-duplicated and kept
in seq order per conversation, so across any number of reconnects an application sees every
event exactly once. `state` is the connection state a UI shows:
connecting -> live -> reconnecting -> live ... -> offline (closed, or the token was refused).

A hole in a conversation's seqs (an event after the one expected) is repaired by one
`subscribe` from the last seq seen. Until the server answers it, that conversation's events
are dropped (the replay brings them again, in order) and no other subscribe is sent. A hole
found soon after the last repair was answered waits before its subscribe: 0.1 s, doubling up
to `max_backoff`, with jitter; once a conversation has gone `max_backoff` seconds since its
last repair, its next hole is repaired at once again. A server that keeps losing frames thus
costs a subscribe now and then, never one per frame.

With a `token_provider`, the socket's token is renewed before it expires: when `ready` (or
the answer to a renewal, `authenticated`) says the token expires in `expires_in` seconds, a
fresh token is taken from the provider a fifth of that time (at most 60 s) before expiry,
kept as `token` for later reconnects and sent as `auth`. A socket closed with 4401 all the
same reconnects with a fresh token instead of going offline, unless the provider fails or
its last token was itself refused at connect.

Counters, for tests and for the chaos run (tests/chaos.py):
- `reconnects`: connections opened again after one was lost.
- `wire_gaps`: holes seen on the wire: events that arrived with seq > last seen + 1 while
  their conversation was not already being repaired. Each starts one repair.
- `wire_duplicates`: events that arrived with seq <= the last seen, dropped.
- `resubscribes`: subscribes sent to repair a hole; never more than `wire_gaps`.
- `token_refreshes`: fresh tokens taken from `token_provider`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

log = logging.getLogger(__name__)

State = Literal["connecting", "live", "reconnecting", "offline"]

CLOSE_UNAUTHENTICATED = 4401
# The wait before a hole's subscribe when the previous repair was answered only just now.
FIRST_REPAIR_BACKOFF = 0.1
# A token is renewed this long before it expires, or a fifth of its lifetime if shorter.
MAX_REFRESH_LEAD_SECONDS = 60.0
# `error` codes with which the server refuses a renewal `auth`.
REFUSED_TOKEN_CODES = ("invalid_token", "token_expired")


@dataclass
class GapRepair:
    """One conversation's hole repairs: whether a repair's subscribe waits for its answer
    (or its turn), and how long the next repair waits."""

    awaiting_answer: bool = False
    backoff: float = 0.0  # before the next repair's subscribe; 0: none
    answered_at: float = -math.inf  # time.monotonic() of the last repair's answer
    delayed: asyncio.Task[None] | None = None  # a subscribe waiting out its back-off

    def cancel_delayed(self) -> None:
        if self.delayed is not None:
            self.delayed.cancel()
            self.delayed = None


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
        token_provider: Callable[[], Awaitable[str]] | None = None,
    ) -> None:
        self.url = url
        self.token = token
        self.ping_interval = ping_interval
        self.max_backoff = max_backoff
        self.on_state = on_state
        self.compression = compression
        self.token_provider = token_provider
        self.state: State = "connecting"
        self.last_seq: dict[str, int] = {}  # conversations we follow -> newest seq seen
        self.reconnects = 0
        self.wire_gaps = 0
        self.wire_duplicates = 0
        self.resubscribes = 0
        self.token_refreshes = 0
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
        self._repairs: dict[str, GapRepair] = {}
        self._refresher: asyncio.Task[None] | None = None
        # A token from the provider that no server has accepted yet: refused at connect,
        # it sends the client offline rather than round a loop of fresh refused tokens.
        self._token_unproven = False

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
        for repair in self._repairs.values():
            repair.cancel_delayed()
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
        repair = self._repairs.pop(conversation_id, None)
        if repair is not None:
            repair.cancel_delayed()
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

    async def _send(self, frame: dict[str, Any]) -> bool:
        """Write a frame if the connection is live; whether it was written."""
        if self._ws is not None and self.state == "live":
            with contextlib.suppress(ConnectionClosed):
                await self._ws.send(orjson.dumps(frame).decode())
                return True
        return False

    async def _send_subscribe(self, conversation_id: str) -> bool:
        frame: dict[str, Any] = {"type": "subscribe", "conversation_id": conversation_id}
        seen = self.last_seq.get(conversation_id, -1)
        if seen >= 0:
            frame["after_seq"] = seen
        return await self._send(frame)

    async def _run(self) -> None:
        backoff = 0.1
        while not self._closing:
            self.close_code = None  # stays None when the connection is never opened
            try:
                await self._session()
            except (OSError, ConnectionClosed, TimeoutError) as exc:
                log.debug("realtime connection lost: %s", exc)
            was_live = self._live.is_set()
            if was_live:
                backoff = 0.1  # a connection that got going starts the back-off afresh
            if self._closing:
                break
            if self.close_code == CLOSE_UNAUTHENTICATED and not await self._token_for_reconnect(
                was_live
            ):
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
                self._token_unproven = False
                self._set_state("live")
                # This connection's subscribes resume every conversation from its last seq,
                # so repairs meant for the last connection are moot.
                for repair in self._repairs.values():
                    repair.awaiting_answer = False
                for conversation_id in list(self.last_seq):
                    await self._send_subscribe(conversation_id)
                self._live.set()
                self._schedule_refresh(ready.get("expires_in"))
                pinger = asyncio.create_task(self._ping_forever(ws))
                try:
                    await self._read(ws)
                finally:
                    pinger.cancel()
            finally:
                self.close_code = ws.close_code
                self._ws = None
                # The next connection's subscribes resume every conversation anyway.
                for repair in self._repairs.values():
                    repair.cancel_delayed()
                if self._refresher is not None:
                    self._refresher.cancel()
                    self._refresher = None
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
                self._repair_answered(conversation_id)
                self._answer(self._answers, conversation_id, frame)
            elif kind == "authenticated":
                self._schedule_refresh(frame.get("expires_in"))
            elif kind in ("sent", "error") and "ref" in frame:
                self._answer(self._sends, frame["ref"], frame)
            elif kind == "error" and "conversation_id" in frame:
                conversation_id = frame["conversation_id"]
                if frame["code"] == "not_found":
                    self.last_seq.pop(conversation_id, None)
                self._repair_answered(conversation_id)
                self._answer(self._answers, conversation_id, frame)
            elif kind == "error" and frame.get("code") in REFUSED_TOKEN_CODES:
                # The socket keeps its old token; at its expiry the server closes with 4401
                # and the client reconnects with a fresh one.
                log.warning("fresh token refused: %s", frame.get("message"))
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
            self.wire_duplicates += 1
            return False  # already delivered (a replay overlapping live delivery)
        repair = self._repairs.get(conversation_id)
        if repair is not None and repair.awaiting_answer:
            return False  # the repair's replay brings it again, in order
        if seen >= 0 and seq != seen + 1:
            await self._repair_hole(conversation_id, seen, seq)
            return False
        self.last_seq[conversation_id] = seq
        return True

    # --- hole repair -------------------------------------------------------------------

    async def _repair_hole(self, conversation_id: str, seen: int, seq: int) -> None:
        """A hole the server should never leave: ask it to replay from what we have, once,
        at once or after a back-off if the last repair was answered only just now."""
        self.wire_gaps += 1
        repair = self._repairs.setdefault(conversation_id, GapRepair())
        if time.monotonic() - repair.answered_at > self.max_backoff:
            repair.backoff = 0.0  # events have flowed in order for a while
        repair.awaiting_answer = True
        if repair.backoff == 0.0:
            log.warning("seq gap in %s: had %s, got %s; resubscribing", conversation_id, seen, seq)
            repair.backoff = FIRST_REPAIR_BACKOFF
            await self._send_repair(conversation_id)
            return
        wait = repair.backoff * (0.5 + random.random())
        log.warning(
            "seq gap in %s: had %s, got %s; resubscribing in %.2f s",
            conversation_id,
            seen,
            seq,
            wait,
        )
        repair.backoff = min(repair.backoff * 2, self.max_backoff)
        repair.delayed = asyncio.create_task(self._send_repair_later(conversation_id, wait))

    async def _send_repair_later(self, conversation_id: str, wait: float) -> None:
        await asyncio.sleep(wait)
        repair = self._repairs.get(conversation_id)
        if repair is not None and repair.awaiting_answer:
            repair.delayed = None
            await self._send_repair(conversation_id)

    async def _send_repair(self, conversation_id: str) -> None:
        if await self._send_subscribe(conversation_id):
            self.resubscribes += 1

    def _repair_answered(self, conversation_id: str) -> None:
        repair = self._repairs.get(conversation_id)
        if repair is not None and repair.awaiting_answer:
            repair.awaiting_answer = False
            repair.answered_at = time.monotonic()
            repair.cancel_delayed()

    # --- token refresh -----------------------------------------------------------------

    def _schedule_refresh(self, expires_in: object) -> None:
        """Renew the token ahead of `expires_in` seconds (from `ready` or `authenticated`),
        when there is a provider to renew it from."""
        if self._refresher is not None:
            self._refresher.cancel()
            self._refresher = None
        if self.token_provider is None or not isinstance(expires_in, int | float):
            return
        if isinstance(expires_in, bool):  # JSON true is not a number of seconds
            return
        lead = min(MAX_REFRESH_LEAD_SECONDS, expires_in / 5)
        self._refresher = asyncio.create_task(self._refresh_after(max(0.0, expires_in - lead)))

    async def _refresh_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            token = await self._fresh_token()
        except Exception:
            # Nothing to renew with: at expiry the 4401 close tries the provider again.
            log.warning("token provider failed; keeping the current token", exc_info=True)
            return
        await self._send({"type": "auth", "token": token})

    async def _fresh_token(self) -> str:
        assert self.token_provider is not None
        self.token = await self.token_provider()
        self.token_refreshes += 1
        return self.token

    async def _token_for_reconnect(self, was_live: bool) -> bool:
        """After a 4401 close: take a fresh token to reconnect with. False (go offline) without
        a provider, when it fails, or when its last token was refused at connect."""
        if self.token_provider is None or (self._token_unproven and not was_live):
            return False
        try:
            await self._fresh_token()
        except Exception:
            log.warning("token provider failed after a 4401 close; going offline", exc_info=True)
            return False
        self._token_unproven = True
        return True
