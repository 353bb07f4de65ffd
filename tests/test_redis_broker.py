"""The Redis broker between processes: two brokers on one Redis stand for two processes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis

from hallway.realtime.redis_broker import (
    CHANNEL_PREFIX,
    ORIGIN_CHARS,
    PUBLISHER_NAME,
    SUBSCRIBER_NAME,
    RedisBroker,
)
from hallway.realtime.redis_wire import RespConnection
from tests.support import TEST_REDIS_URL, counted, eventually

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not TEST_REDIS_URL, reason="needs HALLWAY_TEST_REDIS_URL (CI sets it)"),
]


@pytest.fixture(params=["asyncio", ("asyncio", {"use_uvloop": True})], ids=["asyncio", "uvloop"])
def anyio_backend(request: pytest.FixtureRequest) -> object:
    """The servers run on uvloop, whose transports differ from asyncio's own."""
    return request.param


class Received:
    """A broker's handler, writing down (topic, frame) as it is called."""

    def __init__(self) -> None:
        self.frames: list[tuple[str, str]] = []

    def __call__(self, topic: str, frame: str) -> None:
        self.frames.append((topic, frame))


@pytest.fixture
async def brokers() -> AsyncIterator[tuple[RedisBroker, RedisBroker]]:
    assert TEST_REDIS_URL
    pair = (RedisBroker(TEST_REDIS_URL), RedisBroker(TEST_REDIS_URL))
    for broker in pair:
        await broker.start()
    yield pair
    for broker in pair:
        await broker.close()


@pytest.fixture
def topic() -> str:
    return f"conv:{uuid.uuid4()}"


async def _subscribed(brokers: tuple[RedisBroker, ...], topic: str) -> list[Received]:
    """A recording handler on each broker, once Redis counts each one's subscription."""
    received = []
    for broker in brokers:
        broker.handler = handler = Received()
        received.append(handler)
        await broker.subscribe([topic])
    channel = CHANNEL_PREFIX + topic
    assert TEST_REDIS_URL
    async with redis.Redis.from_url(TEST_REDIS_URL) as client:

        async def counted() -> bool:
            [(_, subscribers)] = await client.pubsub_numsub(channel)
            return int(subscribers) == len(brokers)

        await eventually(counted)
    return received


async def test_a_frame_reaches_its_own_process_at_once_and_once(
    brokers: tuple[RedisBroker, RedisBroker], topic: str
) -> None:
    here, there = brokers
    mine, theirs = await _subscribed(brokers, topic)

    await here.publish(topic, '{"type":"event","seq":1}')

    # Handled before publish returned: no Redis round trip for local subscribers.
    assert mine.frames == [(topic, '{"type":"event","seq":1}')]
    await eventually(lambda: theirs.frames == [(topic, '{"type":"event","seq":1}')])
    # A frame from the other process arrives after our own echo would have: the echo was
    # skipped, not just late.
    await there.publish(topic, '{"type":"event","seq":2}')
    await eventually(lambda: len(mine.frames) == 2)
    assert mine.frames == [(topic, '{"type":"event","seq":1}'), (topic, '{"type":"event","seq":2}')]
    assert theirs.frames == mine.frames


async def test_the_publish_goes_out_before_the_local_fan_out(
    brokers: tuple[RedisBroker, RedisBroker], topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    here, _ = brokers
    await _subscribed(brokers, topic)
    await here.publish(topic, "{}")  # the publishing connection is open from here on
    publisher = here._publisher
    assert publisher is not None
    order: list[str] = []
    write = publisher.write

    def spied(data: bytes) -> None:
        order.append("publish")
        write(data)

    monkeypatch.setattr(publisher, "write", spied)
    here.handler = lambda topic, frame: order.append("local")

    await here.publish(topic, "{}")

    # The other processes' subscribers don't wait behind this one's.
    assert order == ["publish", "local"]


async def test_the_publishing_connection_is_sent_no_replies(
    brokers: tuple[RedisBroker, RedisBroker], topic: str
) -> None:
    here, _ = brokers
    _, theirs = await _subscribed(brokers, topic)
    await here.publish(topic, '{"n":0}')
    assert here._publisher is not None
    replies: list[object] = []
    here._publisher.on_reply = replies.append

    for n in range(1, 21):
        await here.publish(topic, f'{{"n":{n}}}')

    await eventually(lambda: len(theirs.frames) == 21)
    await asyncio.sleep(0.05)  # a reply sent with the last frame would have arrived by now
    assert replies == []


async def test_a_lost_publishing_connection_is_replaced_with_replies_off_again(
    brokers: tuple[RedisBroker, RedisBroker], topic: str
) -> None:
    here, _ = brokers
    _, theirs = await _subscribed(brokers, topic)
    await here.publish(topic, '{"n":0}')
    killed = here._publisher
    reconnects = counted("hallway_broker_reconnects_total", connection="publisher")
    await _kill(PUBLISHER_NAME, killed)

    # What is published until the broker has made the connection again does not reach
    # the other processes (clients recover it by seq), but publishing goes on meanwhile.
    async def replaced() -> bool:
        await here.publish(topic, '{"n":1}')
        return here._publisher is not killed and here._publisher is not None

    await eventually(replaced)
    assert here._publisher is not None
    assert counted("hallway_broker_reconnects_total", connection="publisher") - reconnects == 1
    replies: list[object] = []
    here._publisher.on_reply = replies.append
    await here.publish(topic, '{"n":2}')
    await eventually(lambda: theirs.frames[-1] == (topic, '{"n":2}'))
    assert replies == []


async def test_a_lost_receiving_connection_is_replaced_and_every_topic_followed_again(
    brokers: tuple[RedisBroker, RedisBroker], topic: str
) -> None:
    here, there = brokers
    other_topic = f"conv:{uuid.uuid4()}"
    _, theirs = await _subscribed(brokers, topic)
    await there.subscribe([other_topic])
    reconnects = counted("hallway_broker_reconnects_total", connection="subscriber")
    await _kill(SUBSCRIBER_NAME, there._subscriber)

    async def both_followed_again() -> bool:
        assert TEST_REDIS_URL
        async with redis.Redis.from_url(TEST_REDIS_URL) as client:
            counts = dict(
                await client.pubsub_numsub(*(CHANNEL_PREFIX + t for t in (topic, other_topic)))
            )
        return [int(n) for n in counts.values()] == [2, 1]

    await eventually(both_followed_again)
    assert counted("hallway_broker_reconnects_total", connection="subscriber") - reconnects == 1
    await here.publish(topic, '{"n":1}')
    await here.publish(other_topic, '{"n":2}')

    await eventually(lambda: len(theirs.frames) == 2)
    assert theirs.frames == [(topic, '{"n":1}'), (other_topic, '{"n":2}')]


async def test_a_subscription_is_in_force_when_subscribe_returns(
    brokers: tuple[RedisBroker, RedisBroker], topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    here, _ = brokers
    here.handler = mine = Received()
    await here.subscribe([topic])
    # Returned because Redis confirmed, not because the broker stopped waiting.
    assert "did not confirm" not in caplog.text
    assert TEST_REDIS_URL
    async with redis.Redis.from_url(TEST_REDIS_URL) as client:
        # No waiting: Redis has the subscription, so this frame reaches the broker.
        reached = await client.publish(CHANNEL_PREFIX + topic, "0" * ORIGIN_CHARS + "{}")

    assert reached == 1
    await eventually(lambda: mine.frames == [(topic, "{}")])


async def test_a_topic_being_subscribed_by_another_caller_is_waited_for_too(
    brokers: tuple[RedisBroker, RedisBroker], topic: str
) -> None:
    here, _ = brokers
    first = asyncio.create_task(here.subscribe([topic]))
    await asyncio.sleep(0)  # the first caller has written SUBSCRIBE and waits for Redis

    await here.subscribe([topic])

    # The second caller returned no sooner than the confirmation the first waited for.
    assert first.done()


async def _kill(name: str, connection: RespConnection | None) -> None:
    """CLIENT KILL one of a broker's connections, found by its name and address."""
    assert connection is not None and TEST_REDIS_URL
    transport = connection._transport
    assert transport is not None
    host, port = transport.get_extra_info("sockname")[:2]
    async with redis.Redis.from_url(TEST_REDIS_URL) as admin:
        [killed] = [
            c["id"]
            for c in await admin.client_list()
            if c["name"] == name and c["addr"] == f"{host}:{port}"
        ]
        await admin.client_kill_filter(_id=killed)


async def test_a_topic_this_process_does_not_follow_is_not_handled_here(
    brokers: tuple[RedisBroker, RedisBroker], topic: str
) -> None:
    here, there = brokers
    (theirs,) = await _subscribed((there,), topic)
    here.handler = mine = Received()

    await here.publish(topic, "{}")

    await eventually(lambda: theirs.frames == [(topic, "{}")])
    assert mine.frames == []


async def test_a_failing_local_handler_does_not_stop_the_frame_going_out(
    brokers: tuple[RedisBroker, RedisBroker], topic: str
) -> None:
    here, _ = brokers
    _, theirs = await _subscribed(brokers, topic)

    def broken(topic: str, frame: str) -> None:
        raise RuntimeError("a bug in the hub")

    here.handler = broken
    await here.publish(topic, "{}")

    await eventually(lambda: theirs.frames == [(topic, "{}")])
