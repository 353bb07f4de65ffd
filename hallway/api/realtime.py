"""The WebSocket endpoint's conversation with one client: authenticate, then route its
frames to the hub.

Client frames: auth {token} (first, and again with a fresh token before the last one
expires), subscribe {conversation_id, after_seq?},
unsubscribe {conversation_id}, typing {conversation_id}, send {ref?, conversation_id, ...},
presence.set {status: "away" | "active"}, ping. See docs/realtime.md.
The socket itself (handshake, framing, writes) is one of two: hallway.api.realtime_protocol,
`hallway serve`'s own, or hallway.api.realtime_route, the ASGI route any server can run. Both
hand a session the client's text frames and let it write through them (ReadControl).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import orjson
from pydantic import ValidationError

from hallway.api.errors import validation_failure
from hallway.api.request_log import new_id
from hallway.api.schemas import SendMessageRequest
from hallway.api.socket_log import SocketEnd, log_socket_end
from hallway.domain import message_send
from hallway.domain.errors import DomainError, RateLimited, Unauthenticated
from hallway.domain.rate_limits import SocketFrames
from hallway.domain.tokens import VerifiedToken, verify_token
from hallway.metrics import RATE_LIMIT_REFUSALS, REALTIME_CONNECTIONS
from hallway.realtime.connection import Connection, FrameSink
from hallway.realtime.frames import (
    CLOSE_PROTOCOL_ERROR,
    CLOSE_TOO_MANY_CONNECTIONS,
    CLOSE_UNAUTHENTICATED,
    domain_error_frame,
    dumps,
    error_frame,
)
from hallway.realtime.hub import Hub
from hallway.store.acting import acting

log = logging.getLogger(__name__)

REALTIME_PATH = "/api/v1/realtime"
# The lifespan state key under which the app hands its hub to hallway serve's protocol.
HUB_STATE_KEY = "hub"
# Client frames are small (a token, a subscribe): larger ones are refused with 1009.
MAX_CLIENT_FRAME_BYTES = 64 * 1024
AUTH_TIMEOUT_SECONDS = 10.0
# Clients send `typing` every few seconds while typing; repeats closer than this are dropped
# (kept below the 2 s clients are told to use, so network jitter never drops a real one).
TYPING_MIN_INTERVAL_SECONDS = 1.0
# Client frames waiting to be handled beyond this stop the socket being read until they are:
# a client can't make the server buffer without bound.
MAX_PENDING_CLIENT_FRAMES = 16
PONG = dumps({"type": "pong"})
MAX_REF_CHARS = 64
# What a `send` frame carries besides the message's own fields (SendMessageRequest's).
_SEND_ENVELOPE = ("type", "ref", "conversation_id")


class ReadControl(FrameSink, Protocol):
    """What a session needs of its socket beyond writing: read flow control."""

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


def parse_client_frame(text: str) -> dict[str, Any] | None:
    """A client frame: a JSON object with a string `type`; None for any other text (the
    socket is then closed as a protocol error)."""
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return frame if isinstance(frame, dict) and isinstance(frame.get("type"), str) else None


class RealtimeSession:
    """Handles one client's frames in order. A task runs only while frames wait to be
    handled, so an idle connection holds none (nor a timer: the hub's idle sweep closes
    silent ones).

    A `send` holds the client's turn only until its message is committed: the session
    stores it (message_send.store_message), passes the turn, and only then publishes it, so
    the next frame starts while the message is still being fanned out, and a socket's sends
    are stored in the order they were sent. Answers wait for the answers before them.

    Counted in hallway_realtime_connections from its handshake to its end, when it writes its
    log line (hallway.api.socket_log)."""

    __slots__ = (
        "_auth_timer",
        "_ended",
        "_expiry_timer",
        "_frames",
        "_frames_in",
        "_last_send",
        "_pending",
        "_reading_paused",
        "_send_holding_turn",
        "_socket",
        "_started",
        "_worker",
        "conn",
        "hub",
        "socket_id",
    )

    def __init__(self, hub: Hub, socket: ReadControl) -> None:
        self.hub = hub
        self.conn: Connection | None = None
        self._socket = socket
        self._pending: deque[dict[str, Any] | None] = deque()  # None: not a frame we read
        self._worker: asyncio.Task[None] | None = None
        self._send_holding_turn: asyncio.Task[None] | None = None
        self._last_send: asyncio.Task[None] | None = None
        self._reading_paused = False
        self._ended = False
        self._auth_timer: asyncio.TimerHandle | None = asyncio.get_running_loop().call_later(
            AUTH_TIMEOUT_SECONDS, self._auth_timed_out
        )
        self._expiry_timer: asyncio.TimerHandle | None = None
        self._frames: SocketFrames | None = None  # counts frames once authenticated
        self.socket_id = new_id()
        self._started = time.monotonic()
        self._frames_in = 0
        REALTIME_CONNECTIONS.inc()

    def received(self, text: str) -> None:
        """A text frame from the client (called by the transport, in arrival order)."""
        self._frames_in += 1
        if self.conn is not None:
            self.conn.last_seen = time.monotonic()
        self._pending.append(parse_client_frame(text))
        if len(self._pending) >= MAX_PENDING_CLIENT_FRAMES and not self._reading_paused:
            self._reading_paused = True
            self._socket.pause_reading()
        self._advance()

    def ended(self, end: SocketEnd) -> None:
        """The socket is gone, closed as `end` says (called by the transport once)."""
        REALTIME_CONNECTIONS.dec()
        conn = self.conn
        log_socket_end(
            self.socket_id,
            None if conn is None else conn.actor,
            self._started,
            (self._frames_in, 0 if conn is None else conn.frames_out),
            end,
        )
        self._ended = True
        if self._auth_timer is not None:
            self._auth_timer.cancel()
        if self._expiry_timer is not None:
            self._expiry_timer.cancel()
        if self.conn is not None:
            self.conn.closed = True
            if self._worker is None:  # else the worker detaches when its frame is done
                self.hub.spawn(self.hub.detach(self.conn))

    def _auth_timed_out(self) -> None:
        self._auth_timer = None
        if self.conn is None and not self._ended:
            self._socket.send_close(CLOSE_UNAUTHENTICATED, "send an auth frame first")

    def _expire_at(self, verified: VerifiedToken) -> int:
        """Close the socket when this token expires (replacing any earlier deadline);
        returns the whole seconds left."""
        if self._expiry_timer is not None:
            self._expiry_timer.cancel()
        left = verified.expires_at - time.time()
        self._expiry_timer = asyncio.get_running_loop().call_later(
            max(left, 0.0), self._token_expired
        )
        return max(int(left), 0)

    def _token_expired(self) -> None:
        self._expiry_timer = None
        if self.conn is not None:
            self.conn.close(CLOSE_UNAUTHENTICATED, "token_expired")

    def _stopped(self) -> bool:
        return self._ended or (self.conn is not None and self.conn.closed)

    def _send_is_next(self) -> bool:
        frame = self._pending[0]
        return self.conn is not None and frame is not None and frame["type"] == "send"

    def _take(self) -> dict[str, Any] | None:
        frame = self._pending.popleft()
        if self._reading_paused and len(self._pending) < MAX_PENDING_CLIENT_FRAMES // 2:
            self._reading_paused = False
            self._socket.resume_reading()
        return frame

    def _advance(self) -> None:
        """Start on the next frame, unless one still holds the turn. Called at a send's
        commit, this starts a next send there and then, so that its statement is on the
        wire before the last send's fan-out takes the CPU (message_send.publish_sent);
        other frames are the worker's."""
        if (
            self._worker is not None
            or self._send_holding_turn is not None
            or not self._pending
            or self._stopped()
        ):
            return
        if self._send_is_next():
            self._start_send()
        else:
            self._worker = asyncio.get_running_loop().create_task(self._work())

    async def _work(self) -> None:
        try:
            while self._pending and not self._stopped():
                if self._send_is_next():
                    self._start_send()
                    return
                frame = self._take()
                if self.conn is None:
                    await self._authenticate(frame)
                elif frame is None:
                    self.conn.close(CLOSE_PROTOCOL_ERROR, "frames are JSON objects with a type")
                elif (refused := await self._refusal(frame)) is not None:
                    self.conn.send(refused)
                elif frame["type"] == "auth":
                    await self._reauthenticate(self.conn, frame)
                else:
                    await _handle(self.hub, self.conn, frame)
        except Exception:
            log.exception("realtime frame failed")
            if self.conn is not None:
                self.conn.close(1011, "internal error")
        finally:
            self._worker = None
            if self._ended and self.conn is not None:
                await self.hub.detach(self.conn)

    def _start_send(self) -> None:
        frame = self._take()
        assert frame is not None and self.conn is not None

        def pass_turn() -> None:  # at the send's commit, or when it ends
            if self._send_holding_turn is send:
                self._send_holding_turn = None
                self._advance()

        send = asyncio.get_running_loop().create_task(
            self._send(self.conn, frame, pass_turn, self._last_send)
        )
        send.add_done_callback(lambda _: pass_turn())
        self._send_holding_turn = self._last_send = send

    async def _send(
        self,
        conn: Connection,
        frame: dict[str, Any],
        pass_turn: Callable[[], None],
        previous: asyncio.Task[None] | None,
    ) -> None:
        try:
            answer = await self._refusal(frame)
            sent = None
            if answer is None:
                with acting(conn.actor.acting()):
                    answer, sent = await _store_message(self.hub, conn, frame)
            pass_turn()
            if sent is not None:
                await message_send.publish_sent(self.hub.ctx, sent)
            if previous is not None and not previous.done():
                await asyncio.wait([previous])
            conn.send(answer)
        except Exception:
            log.exception("realtime send failed")
            conn.close(1011, "internal error")

    async def _refusal(self, frame: dict[str, Any]) -> str | None:
        """Count a frame against the socket's limit: None if it may be handled, else the
        error frame that answers it (the socket stays open)."""
        if self._frames is None:
            return None
        try:
            await self._frames.hit()
        except RateLimited as exc:
            return domain_error_frame(exc, **_echo(frame))
        return None

    async def _authenticate(self, frame: dict[str, Any] | None) -> None:
        if self._auth_timer is not None:
            self._auth_timer.cancel()
            self._auth_timer = None
        if frame is None or frame["type"] != "auth" or not isinstance(frame.get("token"), str):
            self._socket.send_close(CLOSE_UNAUTHENTICATED, "the first frame must be auth {token}")
            self._ended = True  # nothing more from this client is read
            return
        try:
            verified = await verify_token(self.hub.ctx, frame["token"])
        except Unauthenticated as exc:
            self._socket.send_close(CLOSE_UNAUTHENTICATED, exc.code)
            self._ended = True
            return
        if self._ended:
            return
        actor = verified.actor
        hub = self.hub
        if hub.connection_count(actor.user_id) >= hub.settings.ws_connections_per_person:
            # Counted and attached with no await between: two sockets authenticating at
            # once cannot both take the last place.
            RATE_LIMIT_REFUSALS.labels("ws-connections").inc()
            self._socket.send_close(CLOSE_TOO_MANY_CONNECTIONS, "too_many_connections")
            self._ended = True
            return
        self._frames = hub.ctx.rate_limits.socket_frames()
        conn = Connection(self._socket, actor, self.hub.settings.ws_send_buffer_bytes)
        self.conn = conn
        await self.hub.attach(
            conn,
            dumps(
                {
                    "type": "ready",
                    "user": {
                        "id": actor.user_id,
                        "company_id": actor.company_id,
                        "role": actor.role,
                    },
                    "expires_in": self._expire_at(verified),
                }
            ),
        )

    async def _reauthenticate(self, conn: Connection, frame: dict[str, Any]) -> None:
        """`auth` on a live socket: a fresh token for the same person moves the socket's
        deadline; a refused one leaves the old deadline in place."""
        token = frame.get("token")
        if not isinstance(token, str):
            conn.send(error_frame("invalid_frame", "auth needs a token"))
            return
        try:
            verified = await verify_token(self.hub.ctx, token)
        except Unauthenticated as exc:
            conn.send(error_frame(exc.code, exc.message))
            return
        if verified.actor.user_id != conn.actor.user_id or (
            verified.actor.company_id != conn.actor.company_id
        ):
            conn.send(error_frame("invalid_token", "the token is for another person"))
            return
        conn.actor = verified.actor  # the same person; a role may have changed
        conn.send(dumps({"type": "authenticated", "expires_in": self._expire_at(verified)}))


def _echo(frame: dict[str, Any]) -> dict[str, Any]:
    """What an error frame repeats of the frame it answers, so the client can tell which
    request it refuses: a send's `ref`, another frame's `conversation_id`."""
    key = "ref" if frame["type"] == "send" else "conversation_id"
    value = frame.get(key)
    if isinstance(value, str) and 1 <= len(value) <= MAX_REF_CHARS:
        return {key: value}
    return {}


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
    elif kind == "presence.set":
        status = frame.get("status")
        if status not in ("away", "active"):
            conn.send(error_frame("invalid_frame", 'presence.set needs status "away" or "active"'))
            return
        await hub.set_away(conn, status == "away")
    else:
        conn.send(error_frame("unknown_frame", f"unknown frame type {kind!r}"))


async def _store_message(
    hub: Hub, conn: Connection, frame: dict[str, Any]
) -> tuple[str, message_send.Sent | None]:
    """`send`: a message, as POST /conversations/{id}/messages sends it, with the same
    checks and the same idempotent client_msg_id, stored but not yet published. The answer
    to send once it is: `sent {ref, created, message}`, or `error {ref, code, message,
    details}` with the HTTP API's codes, having changed nothing (and then nothing to
    publish)."""
    ref = frame.get("ref")
    if ref is not None and (not isinstance(ref, str) or not 1 <= len(ref) <= MAX_REF_CHARS):
        return (
            error_frame("invalid_frame", f"ref must be a string of 1..{MAX_REF_CHARS} characters"),
            None,
        )
    echo = {} if ref is None else {"ref": ref}
    conversation_id = frame.get("conversation_id")
    if not isinstance(conversation_id, str) or not conversation_id:
        return error_frame("invalid_frame", "send needs a conversation_id", **echo), None
    try:
        request = SendMessageRequest.model_validate(
            {k: v for k, v in frame.items() if k not in _SEND_ENVELOPE}
        )
        sent = await message_send.store_message(
            hub.ctx,
            conn.actor,
            conversation_id,
            body=request.body,
            client_msg_id=request.client_msg_id,
            attachment_ids=request.attachment_ids,
            thread_root_id=request.thread_root_id,
        )
    except ValidationError as exc:
        text, details = validation_failure(exc.errors())
        return error_frame("validation_error", text, details=details, **echo), None
    except DomainError as exc:
        return domain_error_frame(exc, **echo), None
    answer = dumps({"type": "sent", **echo, "created": sent.created, "message": sent.message})
    return answer, sent
