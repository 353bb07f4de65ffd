"""The Redis broker between processes: two brokers on one Redis stand for two processes."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis

from hallway.realtime.redis_broker import CHANNEL_PREFIX, PUBLISHER_NAME, RedisBroker
from tests.support import TEST_REDIS_URL, eventually

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not TEST_REDIS_URL, reason="needs HALLWAY_TEST_REDIS_URL (CI sets it)"),
]


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
    order: list[str] = []
    publish = here._publish_unanswered

    async def spied(channel: str, data: str) -> None:
        order.append("publish")
        await publish(channel, data)

    monkeypatch.setattr(here, "_publish_unanswered", spied)
    here.handler = lambda topic, frame: order.append("local")

    await here.publish(topic, "{}")

    # The other processes' subscribers don't wait behind this one's.
    assert order == ["publish", "local"]


async def test_the_publishing_connection_is_sent_no_replies(
    brokers: tuple[RedisBroker, RedisBroker], topic: str
) -> None:
    here, _ = brokers
    _, theirs = await _subscribed(brokers, topic)

    for n in range(20):
        await here.publish(topic, f'{{"n":{n}}}')

    await eventually(lambda: len(theirs.frames) == 20)
    # Redis has handled every PUBLISH; with replies on, twenty would wait unread here.
    assert await here._publisher.can_read() is False


async def test_a_lost_publishing_connection_is_replaced_with_replies_off_again(
    brokers: tuple[RedisBroker, RedisBroker], topic: str
) -> None:
    here, _ = brokers
    _, theirs = await _subscribed(brokers, topic)
    await here.publish(topic, '{"n":0}')
    assert TEST_REDIS_URL
    async with redis.Redis.from_url(TEST_REDIS_URL) as admin:
        [killed] = [
            c["id"]
            for c in await admin.client_list()
            if c["name"] == PUBLISHER_NAME and c["addr"] == _local_address(here)
        ]
        await admin.client_kill_filter(_id=killed)

    # The first write after the kill may still be taken by the kernel, or fail: what is
    # published while the connection is down is lost, and clients recover it by seq.
    for n in range(1, 6):
        with contextlib.suppress(redis.ConnectionError):
            await here.publish(topic, f'{{"n":{n}}}')
        await asyncio.sleep(0.05)

    await eventually(lambda: theirs.frames[-1] == (topic, '{"n":5}'))
    assert await here._publisher.can_read() is False


def _local_address(broker: RedisBroker) -> str:
    """The Redis server's view of the broker's publishing connection: its client address."""
    writer = broker._publisher._writer
    assert writer is not None
    host, port = writer.get_extra_info("sockname")[:2]
    return f"{host}:{port}"


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
