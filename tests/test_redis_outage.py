"""Redis going away and coming back: nodes keep serving, log the outage once, catch up.

Each test has a redis-server of its own, which it stops and starts; the shared Redis is
never touched.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio as aioredis

from hallway.client import RealtimeClient
from hallway.realtime import redis_broker
from hallway.realtime.broker import BrokerUnavailable
from hallway.realtime.presence import RedisPresence
from hallway.realtime.redis_broker import CHANNEL_PREFIX, RedisBroker
from hallway.realtime.redis_outage import RedisOutageLog
from hallway.realtime.redis_wire import RespConnection
from tests.support import (
    TEST_DATABASE_URL,
    TEST_REDIS_URL,
    Directory,
    ServerProcess,
    eventually,
    free_port,
    realtime,
    send,
)

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        not (TEST_DATABASE_URL and TEST_REDIS_URL),
        reason="needs HALLWAY_TEST_DATABASE_URL and HALLWAY_TEST_REDIS_URL (CI sets both)",
    ),
]

REDIS_SERVER = "/usr/bin/redis-server"


class PrivateRedis:
    """A redis-server of one test's own on a free port, stopped and started at will (on
    the same port each time). Nothing is saved: each start is an empty Redis, as after a
    real restart without persistence."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--save",
                "",
                "--appendonly",
                "no",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        with redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1) as client:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if time.monotonic() > deadline or self.process.poll() is not None:
                        raise
                    time.sleep(0.02)

    def stop(self) -> None:
        """SIGTERM: Redis closes its clients' connections and exits, as in a restart."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """Not started: each test starts it when it wants Redis up."""
    server = PrivateRedis(tmp_path)
    try:
        yield server
    finally:
        server.stop()


async def _subscribers(port: int, topic: str) -> int:
    async with aioredis.Redis(host="127.0.0.1", port=port) as client:
        [(_, count)] = await client.pubsub_numsub(CHANNEL_PREFIX + topic)
        return int(count)


class Received:
    def __init__(self) -> None:
        self.frames: list[tuple[str, str]] = []

    def __call__(self, topic: str, frame: str) -> None:
        self.frames.append((topic, frame))


class Calls:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def _outage_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "hallway.realtime.redis_outage"]


# --- the broker alone --------------------------------------------------------------------


@pytest.fixture
async def broker(private_redis: PrivateRedis) -> AsyncIterator[RedisBroker]:
    """A broker on the private Redis, not started."""
    broker = RedisBroker(private_redis.url)
    try:
        yield broker
    finally:
        await broker.close()


async def test_a_broker_started_without_redis_serves_locally_and_connects_when_it_is_back(
    broker: RedisBroker, private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    topic = f"conv:{uuid.uuid4()}"
    broker.handler = mine = Received()
    broker.reconnected = reconnected = Calls()

    async with asyncio.timeout(1):  # none of these waits for Redis, which is not running
        await broker.start()
        await broker.subscribe([topic])
        await broker.publish(topic, '{"n":1}')
        with pytest.raises(BrokerUnavailable):
            await broker.ping()

    assert mine.frames == [(topic, '{"n":1}')]
    private_redis.start()
    await eventually(lambda: reconnected.count == 1)
    # Subscribed again before the owner was told: a frame from another process arrives.
    other = RedisBroker(private_redis.url)
    await other.start()
    try:
        await other.publish(topic, '{"n":2}')
        await eventually(lambda: mine.frames[-1] == (topic, '{"n":2}'))
    finally:
        await other.close()
    await broker.ping()
    assert reconnected.count == 1
    assert len(_outage_lines(caplog)) == 2, _outage_lines(caplog)


async def test_an_outage_is_logged_once_each_way_and_the_owner_told_once_after_it(
    broker: RedisBroker, private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    topic, other_topic = f"conv:{uuid.uuid4()}", f"conv:{uuid.uuid4()}"
    private_redis.start()
    broker.handler = mine = Received()
    broker.reconnected = reconnected = Calls()
    await broker.start()
    await broker.subscribe([topic, other_topic])
    assert reconnected.count == 0  # the first connection is no reconnection

    private_redis.stop()
    await eventually(lambda: _outage_lines(caplog))
    for n in range(100):
        await broker.publish(topic, f'{{"n":{n}}}')
    await asyncio.sleep(1)  # some reconnect attempts fail meanwhile
    # Every frame reached this process; one line said Redis went away.
    assert mine.frames == [(topic, f'{{"n":{n}}}') for n in range(100)]
    [went] = _outage_lines(caplog)
    assert "unreachable" in went

    private_redis.start()
    await eventually(lambda: reconnected.count == 1)
    # The hook came after Redis confirmed every topic: both are followed.
    assert await _subscribers(private_redis.port, topic) == 1
    assert await _subscribers(private_redis.port, other_topic) == 1
    assert _outage_lines(caplog)[1:] == ["redis reachable again"]
    await asyncio.sleep(1)
    assert reconnected.count == 1
    assert len(_outage_lines(caplog)) == 2


async def test_publishing_while_redis_is_away_does_not_try_to_connect_each_time(
    broker: RedisBroker, private_redis: PrivateRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    private_redis.start()
    await broker.start()
    private_redis.stop()
    await eventually(lambda: not broker._publisher or not broker._publisher.open_now)
    opens: list[str] = []
    open_connection = RespConnection.open

    async def counted(*args: Any, **kwargs: Any) -> RespConnection:
        opens.append(args[1])
        return await open_connection(*args, **kwargs)

    monkeypatch.setattr(RespConnection, "open", counted)
    started = time.monotonic()
    while time.monotonic() - started < 1.0:
        await broker.publish(f"conv:{uuid.uuid4()}", "{}")
        await asyncio.sleep(0.005)

    # About one attempt per connection each RECONNECT_SECONDS, however many publishes.
    attempts = 2 * (1.0 / redis_broker.RECONNECT_SECONDS + 1)
    assert 0 < len(opens) <= attempts, opens


async def test_presence_without_redis_answers_without_raising(
    private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    outage = RedisOutageLog()
    presence = RedisPresence(private_redis.url, 60, outage)
    company, person = str(uuid.uuid4()), str(uuid.uuid4())
    try:
        async with asyncio.timeout(2):
            await presence.mark_online(company, [person])
            # Not announced offline on a guess, nor claimed online.
            assert await presence.mark_offline(company, person) is False
            assert await presence.online(company, [person]) == set()
        assert len(_outage_lines(caplog)) == 1

        private_redis.start()
        await presence.mark_online(company, [person])
        assert await presence.online(company, [person]) == {person}
        assert await presence.mark_offline(company, person) is True
        assert _outage_lines(caplog)[1:] == ["redis reachable again"]
    finally:
        await presence.close()


# --- server processes --------------------------------------------------------------------


NodeStarter = Callable[..., ServerProcess]


@pytest.fixture
def start_node(
    env: dict[str, str], private_redis: PrivateRedis, tmp_path: Path
) -> Iterator[NodeStarter]:
    """Start `hallway serve` on the test's PostgreSQL database and private Redis, its
    stderr kept in a file (ServerProcess.stderr_path)."""
    started: list[tuple[ServerProcess, Any]] = []

    def start(name: str, wait_for: str = "/readyz") -> ServerProcess:
        stderr = (tmp_path / f"{name}.stderr").open("wb")
        node = ServerProcess({**env, "HALLWAY_REDIS_URL": private_redis.url}, stderr=stderr)
        started.append((node, stderr))
        return node.start(wait_for=wait_for)

    try:
        yield start
    finally:
        for node, stderr in started:
            node.stop()
            stderr.close()


def _stderr(tmp_path: Path, name: str) -> str:
    return (tmp_path / f"{name}.stderr").read_text()


def _redis_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "redis" in line.lower()]


async def _readyz(node: ServerProcess) -> httpx.Response:
    # Answered at once even while Redis is away: a probe must not hang.
    async with httpx.AsyncClient(base_url=node.base_url, timeout=1.0) as http:
        return await http.get("/readyz")


@pytest.mark.parametrize("stack", ["postgresql"], indirect=True)
async def test_a_node_started_without_redis_serves_and_is_ready_once_redis_is_back(
    start_node: NodeStarter, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    node_a = start_node("a", wait_for="/healthz")

    async with httpx.AsyncClient(base_url=node_a.base_url, timeout=10) as http_a:
        not_ready = await _readyz(node_a)
        assert not_ready.status_code == 503
        assert not_ready.json()["error"]["code"] == "broker_unavailable"
        # It serves meanwhile: a socket authenticates (presence fails quietly) and gets
        # what is sent through its own node.
        admin, bob, conversation = await Directory(http_a).team()
        cid = conversation["id"]
        async with realtime(node_a, bob) as listener:
            await listener.subscribe(cid)
            await send(admin, cid, "through node A")
            assert (await listener.next_event(timeout=2))["data"]["body"] == "through node A"
            assert (await _readyz(node_a)).status_code == 503

            private_redis.start()

            async def ready() -> bool:
                return (await _readyz(node_a)).status_code == 200

            await eventually(ready, timeout=5)
            # Node A followed the conversation on Redis again by itself, so an event sent
            # through node B comes live, not from a later check of the log.
            assert await _subscribers(private_redis.port, f"conv:{cid}") == 1
            node_b = start_node("b")
            async with httpx.AsyncClient(base_url=node_b.base_url, timeout=10) as http_b:
                r = await http_b.post(
                    f"/api/v1/conversations/{cid}/messages",
                    json={"body": "through node B"},
                    headers=admin.headers,
                )
                assert r.status_code == 201, r.text
            assert (await listener.next_event(timeout=2))["data"]["body"] == "through node B"

    stderr = _stderr(tmp_path, "a")
    assert "Traceback" not in stderr, stderr
    assert len(_redis_lines(stderr)) <= 2, stderr


@pytest.mark.parametrize("stack", ["postgresql"], indirect=True)
async def test_an_outage_while_sending_keeps_local_delivery_and_the_other_node_catches_up(
    start_node: NodeStarter, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    private_redis.start()
    node_a, node_b = start_node("a"), start_node("b")
    total = 200
    async with httpx.AsyncClient(base_url=node_b.base_url, timeout=10) as http_b:
        admin, bob, conversation = await Directory(http_b).team()
        cid = conversation["id"]
        async with realtime(node_a, bob) as far, realtime(node_b, bob) as near:
            await far.subscribe(cid)
            await near.subscribe(cid)
            near_events = _collect_events(near)
            statuses: list[int] = []
            sent: list[int] = []

            async def send_all() -> None:
                for i in range(total):
                    r = await admin.post(
                        f"/api/v1/conversations/{cid}/messages", json={"body": f"m{i}"}
                    )
                    statuses.append(r.status_code)
                    if r.status_code == 201:
                        sent.append(r.json()["seq"])
                    await asyncio.sleep(0.01)

            sender = asyncio.create_task(send_all())
            try:
                await eventually(lambda: len(statuses) >= 30)
                private_redis.stop()
                await asyncio.sleep(2)
                # While Redis is still away, node B's own listener has every event sent.
                during = list(sent)
                assert len(during) > 30
                await eventually(lambda: near_events.seqs[: len(during)] == during, timeout=2)
                private_redis.start()
                await sender
            finally:
                sender.cancel()
            near_events.task.cancel()

            assert statuses == [201] * total
            assert near_events.seqs == sent
            # Node A missed what node B published during the outage, and reads it from
            # the log; its listener gets every event in order.
            got = [(await far.next_event(timeout=15))["seq"] for _ in range(total)]
            assert got == sent

    for name in ("a", "b"):
        stderr = _stderr(tmp_path, name)
        assert "Traceback" not in stderr, stderr
        lines = _redis_lines(stderr)
        assert len(lines) <= 2, stderr
        assert any("unreachable" in line for line in lines), stderr


class _Events:
    def __init__(self, task: asyncio.Task[None], seqs: list[int]) -> None:
        self.task = task
        self.seqs = seqs


def _collect_events(client: RealtimeClient) -> _Events:
    """The seqs of the events `client` receives, as they come, in a task of their own."""
    seqs: list[int] = []

    async def collect() -> None:
        while True:
            seqs.append((await client.next_event(timeout=3600))["seq"])

    return _Events(asyncio.create_task(collect()), seqs)
