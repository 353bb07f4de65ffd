"""/metrics: Prometheus' text format over real HTTP, moving as messages flow through real
sockets; refused without the token; one scrape adding up `hallway serve --workers 2`."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.support import (
    METRICS_TOKEN,
    Directory,
    Samples,
    ServerProcess,
    counted,
    eventually,
    on_two_nodes,
    realtime,
    running_app,
    scrape,
    send,
    send_anew,
    settings_from_env,
    value,
)

pytestmark = pytest.mark.anyio

SCRAPE = {"Authorization": f"Bearer {METRICS_TOKEN}"}
MESSAGES = "/api/v1/conversations/{conversation_id}/messages"


def _workers(pid: int) -> list[int]:
    """The worker processes of a `hallway serve --workers N` (not multiprocessing's helper)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def _environment(pid: int) -> dict[str, str]:
    entries = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(entry.decode().partition("=")[::2] for entry in entries if entry)


def _listening(pid: int, port: int) -> bool:
    """Whether the process holds a socket listening on this port (so the kernel hands it
    connections)."""
    listen_state = "0A"
    inodes = {
        fields[9]
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
        if (fields := line.split())[3] == listen_state
        and int(fields[1].rpartition(":")[2], 16) == port
    }
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            if os.readlink(fd).removeprefix("socket:[").removesuffix("]") in inodes:
                return True
    return False


async def test_counters_move_as_messages_go_through_a_socket(
    start_server: Callable[..., ServerProcess], stack: str
) -> None:
    server = start_server(metrics_token=METRICS_TOKEN, db_pool_size="3")
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        admin, bob, conversation = await Directory(http).team()
        cid = conversation["id"]
        before = await scrape(server.base_url)
        async with realtime(server, bob) as listener, realtime(server, admin) as sender:
            await listener.subscribe(cid)
            during = await scrape(server.base_url)
            assert value(during, "hallway_realtime_connections") == 2
            assert value(during, "hallway_realtime_subscriptions") == 1
            for i in range(5):
                assert (await sender.send_message(cid, f"socket {i}"))["type"] == "sent"
            await send(admin, cid, "over HTTP")
            for _ in range(6):
                await listener.next_event()

    async def sockets_gone() -> Samples | None:
        samples = await scrape(server.base_url)
        gone = value(samples, "hallway_realtime_connections") == 0
        return samples if gone else None

    after = await eventually(sockets_gone)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert value(after, "hallway_realtime_subscriptions") == 0
    assert moved("hallway_events_published_total") == 6
    # Each event to the subscribed listener, and to the sender's socket as an inbox notice.
    assert moved("hallway_events_delivered_total", path="live") == 6
    assert moved("hallway_events_delivered_total", path="inbox") == 6
    assert moved("hallway_fanout_duration_seconds_count") == 6
    sent = {"method": "POST", "route": MESSAGES}
    assert moved("hallway_http_request_duration_seconds_count", **sent) == 1
    assert moved("hallway_http_responses_total", **sent, status="201") == 1
    routes = {dict(labels).get("route") for _name, labels in after} - {None}
    assert not any(cid in str(route) for route in routes), "a raw path became a label"
    assert value(after, "hallway_event_loop_lag_seconds_count") > 0
    if stack == "postgresql":
        assert value(after, "hallway_db_pool_capacity") == 6

        async def pool_in_use() -> bool:
            # Sampled every few seconds; the connections the sends ran on stay checked out.
            in_use = value(
                await scrape(server.base_url), "hallway_db_pool_connections", state="checked_out"
            )
            return in_use >= 1

        await eventually(pool_in_use, timeout=10)
    else:
        assert value(after, "hallway_db_pool_capacity") == 0


async def test_a_scrape_needs_the_token_and_without_one_there_is_no_route(
    env: dict[str, str],
) -> None:
    async with running_app(settings_from_env(env, metrics_token=METRICS_TOKEN)) as (_app, client):
        unfit: list[dict[str, str]] = [
            {},
            {"Authorization": "Bearer wrong-token"},
            {"Authorization": METRICS_TOKEN},
        ]
        for headers in unfit:
            r = await client.get("/metrics", headers=headers)
            assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
            assert r.headers["www-authenticate"] == "Bearer"
        assert (await client.get("/metrics", headers=SCRAPE)).status_code == 200
    async with running_app(settings_from_env(env)) as (_app, client):
        r = await client.get("/metrics", headers=SCRAPE)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        assert "/metrics" not in (await client.get("/openapi.json")).json()["paths"]


async def test_rate_limit_refusals_are_counted_by_limit(env: dict[str, str]) -> None:
    limited = settings_from_env(env, searches_per_person="2 per minute")
    refused = counted("hallway_rate_limit_refusals_total", limit="search")
    async with running_app(limited) as (_app, client):
        admin = await Directory(client).company()
        answers = [
            (await admin.get("/api/v1/search", params={"q": "anything"})).status_code
            for _ in range(3)
        ]
    assert answers[-1] == 429, answers
    assert counted("hallway_rate_limit_refusals_total", limit="search") - refused == 1


@on_two_nodes
async def test_a_scrape_of_either_worker_adds_up_both(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server("--workers", "2", metrics_token=METRICS_TOKEN)
    assert server.process is not None
    pid = server.process.pid
    await eventually(
        lambda: (
            len(workers := _workers(pid)) == 2
            and all(_listening(worker, server.port) for worker in workers)
        ),
        timeout=30,
    )
    directories = {_environment(worker)["PROMETHEUS_MULTIPROC_DIR"] for worker in _workers(pid)}
    assert len(directories) == 1
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        admin, bob, conversation = await Directory(http).team()
    cid = conversation["id"]
    before = await scrape(server.base_url)
    async with contextlib.AsyncExitStack() as stack:
        # Sockets and sends on fresh connections land on either process.
        listeners = [await stack.enter_async_context(realtime(server, bob)) for _ in range(8)]
        for listener in listeners:
            await listener.subscribe(cid)
        for i in range(20):
            await send_anew(server, admin, cid, f"m{i}")
        for listener in listeners:
            for _ in range(20):
                await listener.next_event()
        # Whichever process answers, it answers for both.
        for _ in range(6):
            samples = await scrape(server.base_url)
            assert value(samples, "hallway_realtime_connections") == 8
            assert value(samples, "hallway_realtime_subscriptions") == 8
            published = value(samples, "hallway_events_published_total")
            assert published - value(before, "hallway_events_published_total") == 20
            delivered = value(samples, "hallway_events_delivered_total", path="live")
            assert delivered - value(before, "hallway_events_delivered_total", path="live") == 160
    server.stop()
    removed = not await asyncio.to_thread(os.path.exists, directories.pop())
    assert removed, "the parent removes the workers' metric files"
