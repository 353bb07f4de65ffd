"""The fan-out baseline: a bare `websockets` server that speaks just enough of Hallway's
realtime protocol for the same client harness, and fans frames out with `broadcast()`.

Run as its own process: `python -m bench.baseline_websockets --port P [--compression]
[--redis URL]`. Clients send auth (any token) and get `ready`; `subscribe` adds them to the
one audience and answers `subscribed`; `ping` answers `pong`. A client's `event` frame is
broadcast verbatim to every subscriber: the publisher builds it once, as Hallway's hub does.

With `--redis`, several of these processes share one audience as Hallway's processes do
through its broker (hallway/realtime/redis_broker.py): the process an event reaches first
publishes it to Redis behind its origin, then broadcasts it to its own subscribers, and
broadcasts what the others publish. The fan-out scenario runs two this way, as a reference
for Hallway's two-process rows: what the same hop costs the bare library.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
from http import HTTPStatus
from typing import Any

import orjson
import redis.asyncio as redis
import uvloop
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.http11 import Request, Response

EVENT_PREFIX = '{"type":"event"'
READY = orjson.dumps({"type": "ready", "user": {"id": "baseline"}}).decode()
PONG = orjson.dumps({"type": "pong"}).decode()

CHANNEL = "baseline:audience"
ORIGIN = secrets.token_hex(8).encode()

subscribers: set[ServerConnection] = set()
publisher: redis.Redis | None = None
# The PUBLISH tasks and the relay, held until done: the loop keeps only weak references.
held_tasks: set[asyncio.Task[Any]] = set()


def health(connection: ServerConnection, request: Request) -> Response | None:
    if request.path == "/healthz":
        return connection.respond(HTTPStatus.OK, "ok\n")
    return None


async def handle(ws: ServerConnection) -> None:
    try:
        async for frame in ws:
            if not isinstance(frame, str):
                continue
            if frame.startswith(EVENT_PREFIX):
                if publisher is not None:
                    task = asyncio.ensure_future(
                        publisher.publish(CHANNEL, ORIGIN + frame.encode())
                    )
                    held_tasks.add(task)
                    task.add_done_callback(held_tasks.discard)
                    await asyncio.sleep(0)  # the PUBLISH on the wire first, as Hallway's
                broadcast(subscribers, frame)
                continue
            kind = orjson.loads(frame).get("type")
            if kind == "auth":
                await ws.send(READY)
            elif kind == "subscribe":
                subscribers.add(ws)
                await ws.send(orjson.dumps({"type": "subscribed", "last_seq": 0}).decode())
            elif kind == "ping":
                await ws.send(PONG)
    finally:
        subscribers.discard(ws)


async def relay_from_redis(url: str) -> None:
    """Broadcast what the other processes publish; skip this one's own frames."""
    client = redis.Redis.from_url(url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(CHANNEL)
    while True:
        message = await pubsub.get_message(timeout=1.0)
        if message is None or message.get("type") != "message":
            continue
        data: bytes = message["data"]
        if not data.startswith(ORIGIN):
            broadcast(subscribers, data[len(ORIGIN) :].decode())


async def main(port: int, compression: bool, redis_url: str | None) -> None:
    global publisher
    if redis_url is not None:
        publisher = redis.Redis.from_url(redis_url)
        await publisher.ping()
        # Runs until the process is stopped, as serve_forever does.
        held_tasks.add(asyncio.create_task(relay_from_redis(redis_url)))
    async with serve(
        handle,
        "127.0.0.1",
        port,
        process_request=health,
        compression="deflate" if compression else None,
        max_size=2**20,
    ) as server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--compression", action="store_true")
    parser.add_argument("--redis", help="share one audience with other processes on this Redis")
    args = parser.parse_args()
    uvloop.run(main(args.port, args.compression, args.redis))
