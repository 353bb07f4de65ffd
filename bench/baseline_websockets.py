"""The fan-out baseline: a bare `websockets` server that speaks just enough of Hallway's
realtime protocol for the same client harness, and fans frames out with `broadcast()`.

Run as its own process: `python -m bench.baseline_websockets --port P [--compression]`.
Clients send auth (any token) and get `ready`; `subscribe` adds them to the one audience and
answers `subscribed`; `ping` answers `pong`. A client's `event` frame is broadcast verbatim to
every subscriber: the publisher builds it once, as Hallway's hub does.
"""

from __future__ import annotations

import argparse
from http import HTTPStatus

import orjson
import uvloop
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.http11 import Request, Response

EVENT_PREFIX = '{"type":"event"'
READY = orjson.dumps({"type": "ready", "user": {"id": "baseline"}}).decode()
PONG = orjson.dumps({"type": "pong"}).decode()

subscribers: set[ServerConnection] = set()


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


async def main(port: int, compression: bool) -> None:
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
    args = parser.parse_args()
    uvloop.run(main(args.port, args.compression))
