"""What the realtime scenarios share: a seeded room, servers running, and a sender whose
messages carry their send time, paced by how fast the listeners receive them."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager

from bench import seed
from bench.http import Http
from bench.listeners import Listeners, body_with_time
from bench.rawws import Listener, text_frame
from bench.server import ServerProcess, Stack, fresh_database

BODY_CHARS = 100  # a typical chat line; the event frame around it is about 590 bytes
SendOne = Callable[[int], Awaitable[None]]


async def seeded_room(stack: Stack, people: int) -> seed.Room:
    db = await fresh_database(stack)
    try:
        return await seed.room(db, people)
    finally:
        await db.dispose()


@contextmanager
def hallway_servers(stack: Stack, count: int, **settings: str) -> Iterator[list[ServerProcess]]:
    """`count` server processes on one database (and, for more than one, one Redis)."""
    with ExitStack() as stack_of_servers:
        yield [
            stack_of_servers.enter_context(ServerProcess.hallway(stack.env(**settings)))
            for _ in range(count)
        ]


def listener_tokens(room: seed.Room, connections: int) -> list[str]:
    """Tokens for `connections` clients: the room's people but the sender, round-robin."""
    audience = room.people[1:] or room.people
    return [audience[i % len(audience)].token for i in range(connections)]


def hallway_sender(server: ServerProcess, room: seed.Room) -> tuple[SendOne, Http]:
    """Sends through the HTTP API, as a person would; the POST answers after commit."""
    http = Http(server.port, room.people[0].token)
    path = f"/api/v1/conversations/{room.conversation_id}/messages"
    run = uuid.uuid4().hex[:8]

    async def send_one(k: int) -> None:
        body = {"body": body_with_time(BODY_CHARS), "client_msg_id": f"{run}-{k}"}
        await http.json("POST", path, body, expect=201)

    return send_one, http


async def lean_socket(
    server: ServerProcess, token: str, on_answers: Callable[[int, list[int]], None]
) -> Listener:
    """An authenticated realtime socket on the listeners' lean client (bench/rawws.py): on
    two cores, what the `websockets` client spends on each frame would be measured too.
    `on_answers` is called with the count of frames read that carry a bench body."""
    loop = asyncio.get_running_loop()
    _, socket = await loop.create_connection(
        lambda: Listener(server.port, token, None, False, on_answers), "127.0.0.1", server.port
    )
    await asyncio.wait_for(socket.opened, 30)
    return socket


class SocketSender:
    """Sends `send` frames over the sender's own realtime socket, as the web client does
    while it is live, without waiting for each answer: like the baseline's publisher, it is
    paced only by delivery. Its answers (`sent`, which carries the message and so its
    body) are counted as they come and checked at the end."""

    def __init__(self, conversation_id: str) -> None:
        self.conversation_id = conversation_id
        self.run = uuid.uuid4().hex[:8]
        self.sent = 0
        self.answered = 0
        self._caught_up = asyncio.Event()  # every send so far is answered
        self._socket: Listener | None = None

    @classmethod
    async def open(cls, server: ServerProcess, room: seed.Room) -> SocketSender:
        sender = cls(room.conversation_id)
        sender._socket = await lean_socket(server, room.people[0].token, sender._answers)
        return sender

    def _answers(self, count: int, _latencies: list[int]) -> None:
        self.answered += count
        if self.answered >= self.sent:
            self._caught_up.set()

    async def send_one(self, k: int) -> None:
        assert self._socket is not None
        frame: dict[str, object] = {
            "type": "send",
            "ref": str(k),
            "conversation_id": self.conversation_id,
            "body": body_with_time(BODY_CHARS),
            "client_msg_id": f"{self.run}-{k}",
        }
        self.sent += 1
        self._caught_up.clear()
        self._socket.send(text_frame(frame))

    async def close(self, timeout: float = 30) -> None:
        """Wait for every send's answer; raise if any is missing (refused, or never came)."""
        assert self._socket is not None
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._caught_up.wait(), timeout)
        finally:
            self._socket.close()
        if self.answered < self.sent:
            raise RuntimeError(
                f"{self.answered}/{self.sent} sends answered with `sent`; "
                f"refused: {self._socket.errors[:3]}"
            )


async def baseline_sender(server: ServerProcess) -> tuple[SendOne, Listener]:
    """Sends event frames shaped like Hallway's `message.created` to the baseline server."""
    socket = await lean_socket(server, "publisher", lambda count, _: None)
    conversation_id, sender_id = str(uuid.uuid4()), str(uuid.uuid4())

    async def send_one(k: int) -> None:
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        message = {
            "id": str(uuid.uuid4()),
            "conversation_id": conversation_id,
            "seq": k + 1,
            "sender_id": sender_id,
            "client_msg_id": f"baseline-{k}",
            "body": body_with_time(BODY_CHARS),
            "thread_root_id": None,
            "created_at": now,
            "edited_at": None,
            "deleted_at": None,
            "attachments": [],
            "reactions": [],
        }
        frame: dict[str, object] = {
            "type": "event",
            "conversation_id": conversation_id,
            "seq": k + 1,
            "kind": "message.created",
            "data": message,
            "created_at": now,
        }
        socket.send(text_frame(frame))

    return send_one, socket


async def send_paced(
    send_one: SendOne,
    count: int,
    listeners: Listeners,
    audience: int,
    window: int,
    sent_before: int = 0,
) -> None:
    """Send `count` messages one after another, never more than `window` messages ahead of
    what every listener has received: as fast as delivery keeps up. `sent_before`: messages
    these listeners were sent (and received) in earlier batches."""
    for k in range(sent_before, sent_before + count):
        # The counts live in other processes' shared memory: nothing to await but time.
        while k - listeners.received() / audience >= window:  # noqa: ASYNC110
            await asyncio.sleep(0.0005)
        await send_one(k)


async def wait_received(listeners: Listeners, total: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while listeners.received() < total:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.001)
    return True
