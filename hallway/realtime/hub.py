"""The per-process hub: what a connection asks of the realtime layer (attach, subscribe,
typing), and every frame from the broker routed to where it goes.

Its jobs live in modules of their own: the conversation feeds, ordered by seq and gap-free
(feeds.py), the connection registry and membership changes (registry.py), presence
announcements (presence_changes.py) and the periodic work (housekeeping.py). What stays
here is the hand-over from a subscription's replay to its live frames.

Topics on the broker:
  conv:<id>      every durable event of the conversation, and its typing frames
  user:<id>      `member.added` and `member.removed` events for that person (their process
                 may not listen to the conversation, or may be reading their conversations),
                 and `sessions_ended` when their sessions end (their sockets close)
                 and frames for all the person's sockets (PERSONAL_FRAMES)
  presence:<id>  online/offline changes in a company, batched (presence_changes.py), and
                 `user.updated` when a person of the company changes their profile or
                 their "do not disturb"
"""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from typing import Any

import orjson

from hallway.config import Settings
from hallway.domain.access import conversation_for_member, read_member_conversation_ids
from hallway.domain.context import DomainContext, Event
from hallway.domain.errors import NotFound
from hallway.domain.events import read_events_after
from hallway.files.links import FileLinks
from hallway.metrics import (
    DELIVERED_LIVE,
    DELIVERED_REPLAY,
    EVENTS_PUBLISHED,
    REALTIME_SUBSCRIPTIONS,
)
from hallway.realtime.background import BackgroundTasks
from hallway.realtime.broker import Broker
from hallway.realtime.connection import Connection, Subscription
from hallway.realtime.feeds import Feeds
from hallway.realtime.frames import dumps, error_frame, event_frame
from hallway.realtime.housekeeping import Housekeeping
from hallway.realtime.presence import Presence
from hallway.realtime.presence_changes import PresenceChanges
from hallway.realtime.registry import ConnectionRegistry
from hallway.store.acting import acting

# Frames on a person's topic that go to each of their sockets as they are: `receipt`, their
# read marker moved in a channel (where it is not logged as an event).
PERSONAL_FRAMES = frozenset({"receipt"})


class Hub:
    def __init__(
        self, ctx: DomainContext, broker: Broker, presence: Presence, settings: Settings
    ) -> None:
        self.ctx = ctx
        self.broker = broker
        self.settings = settings
        self.links = ctx.links
        self.background = BackgroundTasks()
        self.feeds = Feeds(ctx, broker)
        self.registry = ConnectionRegistry(self.feeds, broker, ctx.session_states, self.background)
        self.feeds.membership = self.registry
        self.presence_changes = PresenceChanges(broker, presence, self.registry)
        self.housekeeping = Housekeeping(settings, self.registry, self.feeds, self.presence_changes)
        self._away_here: set[str] = set()  # people whose every socket here is away
        broker.handler = self.on_frame
        broker.reconnected = self._broker_reconnected

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        self.housekeeping.start()

    async def close(self) -> None:
        self.presence_changes.close()
        await self.housekeeping.close()
        self.background.cancel()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run a step in the background (kept referenced; cancelled on close)."""
        self.background.spawn(coro)

    # --- connections -------------------------------------------------------------------

    async def attach(self, conn: Connection, greeting: str) -> None:
        """Register an authenticated connection: its conversations feed its inbox; then
        write `greeting` (`ready`) to it, then announce its person's arrival.

        Listen, then read: the person's topic is followed before their conversations are
        read, so a removal committed after the read reaches this connection, and one that
        arrives during it keeps the connection out of that conversation's feed.

        Listen, then greet: a client reloads the conversation list when it is greeted, so
        the greeting waits until every feed is joined; otherwise a message committed after
        that reload but before the join would reach neither. Frames that arrive meanwhile
        are held and follow the greeting."""
        conn.hold()
        topics, first_here = self.registry.add(conn)
        with self.registry.reading_conversations(conn) as removed_meanwhile:
            if topics:
                await self.broker.subscribe(topics)
            with acting(conn.actor.acting()):
                async with self.ctx.db.read() as db:
                    ids = await read_member_conversation_ids(db, conn.actor)
        if conn.closed:
            return  # the session detaches it
        joined = [i for i in ids if i not in removed_meanwhile]
        feed_topics = self.feeds.join(conn, joined)
        if feed_topics:
            await self.broker.subscribe(feed_topics)
        conn.release(greeting)
        if first_here:
            await self.presence_changes.arrived(conn.actor)
        else:
            await self._check_away(conn)

    def connection_count(self, user_id: str) -> int:
        """How many sockets of this person this process holds."""
        return self.registry.count(user_id)

    async def detach(self, conn: Connection) -> None:
        topics, last_here = self.registry.remove(conn)
        if topics:
            await self.broker.unsubscribe(topics)
        if last_here:
            self._away_here.discard(conn.actor.user_id)
            await self.presence_changes.left(conn.actor)
        else:
            await self._check_away(conn)

    async def set_away(self, conn: Connection, away: bool) -> None:
        """The client says its user is idle (away) or active again."""
        conn.away = away
        await self._check_away(conn)

    async def _check_away(self, conn: Connection) -> None:
        """A person is away on this process when every socket of theirs here is; a change
        of that is recorded and announced (presence_changes.py)."""
        user_id = conn.actor.user_id
        sockets = list(self.registry.of_person(user_id))
        away = bool(sockets) and all(s.away for s in sockets)
        if away == (user_id in self._away_here):
            return
        if away:
            self._away_here.add(user_id)
        else:
            self._away_here.discard(user_id)
        await self.presence_changes.away_changed(conn.actor, away)

    # --- client requests ---------------------------------------------------------------

    async def subscribe(
        self, conn: Connection, conversation_id: str, after_seq: int | None
    ) -> None:
        """Replay what the client missed from the log, then go live, with no gap and no
        duplicate even while events are committed during the replay.

        Listen, then read, then hand over: the subscription is registered on the feed
        before the log is read, so every frame the feed dispatches from then on is held
        in its buffer, and everything it dispatched before was committed before the read
        began. The buffer is sent after the replay, skipping what the replay already sent.
        Until the read confirms membership the connection is on the feed but not in the
        conversation: it is written nothing, and may not type there."""
        feed = self.feeds.open(conversation_id)
        feed.joining += 1  # pins the feed, and holds early frames while it has no baseline
        sub = Subscription()
        try:
            await self.broker.subscribe([f"conv:{conversation_id}"])
            if conn.closed:
                return
            if conn.subscriptions.get(conversation_id) is None:
                REALTIME_SUBSCRIPTIONS.inc()
            conn.subscriptions[conversation_id] = sub
            feed.members.add(conn)
            with acting(conn.actor.acting()):
                async with self.ctx.db.read() as db:
                    conversation = await conversation_for_member(db, conn.actor, conversation_id)
                    last_seq = int(conversation.last_seq)
                    start = last_seq if after_seq is None else min(after_seq, last_seq)
                    replay = await read_events_after(
                        db, conversation_id, start, self.settings.ws_replay_limit + 1
                    )
            if feed.last is None:
                feed.last = last_seq
                self.feeds.drain(feed)
            elif feed.last > last_seq:
                # Another subscriber's later snapshot set the feed's baseline, and the
                # frames up to it were never dispatched: this one reads them instead.
                upto = feed.last
                if after_seq is None:
                    start = upto
                elif len(replay) <= self.settings.ws_replay_limit:
                    with acting(conn.actor.acting()):
                        async with self.ctx.db.read() as db:
                            replay += await read_events_after(
                                db, conversation_id, last_seq, upto - last_seq
                            )
                last_seq = upto
        except NotFound:
            current = conn.subscriptions.get(conversation_id) is sub
            if current:
                self.feeds.leave(conn, conversation_id)
            if current or sub.removed:
                conn.send(_not_found(conversation_id))
            return
        finally:
            feed.joining -= 1
            await self.feeds.drop_if_unused(feed)
        if conn.subscriptions.get(conversation_id) is not sub:
            # Unsubscribed, subscribed again, or removed while the log was read: its
            # membership as read is out of date.
            if sub.removed:
                conn.send(_not_found(conversation_id))
            return
        conn.conversations.add(conversation_id)
        await self._hand_over(conn, sub, conversation_id, start, last_seq, replay)

    async def _hand_over(
        self,
        conn: Connection,
        sub: Subscription,
        conversation_id: str,
        start: int,
        last_seq: int,
        replay: list[Event],
    ) -> None:
        """Send `subscribed`, the replay (or `resync` when it is too long, or when the log
        no longer holds its start: retention dropped it), then what the feed buffered
        meanwhile; the subscription is live from then on."""
        conn.send(
            dumps({"type": "subscribed", "conversation_id": conversation_id, "last_seq": last_seq})
        )
        dropped = start < last_seq and (not replay or replay[0].seq != start + 1)
        if dropped or len(replay) > self.settings.ws_replay_limit:
            conn.send(
                dumps({"type": "resync", "conversation_id": conversation_id, "last_seq": last_seq})
            )
            sub.delivered = last_seq
        else:
            sub.delivered = start
            # Live frames keep collecting in sub.buffer while the replay waits for room.
            for replayed, event in enumerate(replay, 1):
                await conn.send_when_room(event_frame(event, self.links))
                if conn.subscriptions.get(conversation_id) is not sub:
                    DELIVERED_REPLAY.inc(replayed)
                    return  # unsubscribed or removed meanwhile
                sub.delivered = event.seq
            DELIVERED_REPLAY.inc(len(replay))
        buffered, sub.buffer = sub.buffer or [], None
        live = 0
        for seq, frame in buffered:  # in seq order: the feed dispatches in order
            # The feed may lag the snapshot (frames still in flight from another
            # process), so its first frames can repeat what the replay sent.
            if seq > sub.delivered:
                conn.send(frame)
                sub.delivered = seq
                live += 1
        DELIVERED_LIVE.inc(live)

    def unsubscribe(self, conn: Connection, conversation_id: str) -> None:
        if conn.subscriptions.pop(conversation_id, None) is not None:
            REALTIME_SUBSCRIPTIONS.dec()
        if conversation_id not in conn.conversations:
            # Still subscribing: membership unconfirmed, so no inbox frames either.
            feed = self.feeds.get(conversation_id)
            if feed is not None:
                feed.members.discard(conn)

    async def typing(self, conn: Connection, conversation_id: str) -> None:
        if conversation_id not in conn.conversations:
            conn.send(_not_found(conversation_id))
            return
        await self.broker.publish(
            f"conv:{conversation_id}",
            dumps(
                {
                    "type": "typing",
                    "conversation_id": conversation_id,
                    "user_id": conn.actor.user_id,
                    "expires_in": self.settings.typing_ttl_seconds,
                }
            ),
        )

    # --- frames from the broker --------------------------------------------------------

    def on_frame(self, topic: str, frame: str) -> None:
        """Called for every frame on a topic this process listens to. Parsed once here,
        whatever the number of local recipients."""
        meta = orjson.loads(frame)
        kind, _, key = topic.partition(":")
        if kind == "conv":
            feed = self.feeds.get(key)
            if feed is None:
                return
            if meta["type"] == "event":
                self.feeds.accept(feed, meta["seq"], frame, meta)
            elif meta["type"] == "typing":
                self.feeds.typing(feed, meta["user_id"], frame)
        elif kind == "user":
            if meta["type"] == "sessions_ended":
                self.registry.sessions_ended(key, meta["session_ids"])
            elif meta["type"] in PERSONAL_FRAMES:
                for conn in self.registry.of_person(key):
                    conn.send(frame)
            elif meta.get("kind") == "member.added":
                self.registry.members_added(meta["conversation_id"], [key], meta)
            elif meta.get("kind") == "member.removed":
                self.registry.member_removed(meta["conversation_id"], key, meta["seq"])
        elif kind == "presence":
            for conn in self.registry.in_company(key):
                conn.send(frame)

    async def check_feeds(self) -> None:
        """Catch up feeds the database says are behind (what housekeeping runs every
        FEED_CHECK_SECONDS)."""
        await self.feeds.catch_up()

    def _broker_reconnected(self) -> None:
        # Frames published while the broker was away never arrive: read them now rather
        # than at the next periodic check.
        self.spawn(self.feeds.catch_up())


def _not_found(conversation_id: str) -> str:
    """The answer to a subscribe or typing in a conversation that does not exist or that the
    person may not see (the two are indistinguishable)."""
    return error_frame("not_found", "conversation not found", conversation_id=conversation_id)


class HubPublisher:
    """The domain's EventPublisher: serialises each committed event once and publishes it."""

    def __init__(self, broker: Broker, links: FileLinks) -> None:
        self.broker = broker
        self.links = links

    async def publish(self, events: Sequence[Event]) -> None:
        EVENTS_PUBLISHED.inc(len(events))
        for event in events:
            frame = event_frame(event, self.links)
            await self.broker.publish(f"conv:{event.conversation_id}", frame)
            if event.kind == "member.added":
                for user_id in event.data["user_ids"]:
                    await self.broker.publish(f"user:{user_id}", frame)
            elif event.kind == "member.removed":
                await self.broker.publish(f"user:{event.data['user_id']}", frame)

    async def sessions_ended(self, user_id: str, session_ids: Sequence[str] | None) -> None:
        frame = dumps(
            {
                "type": "sessions_ended",
                "user_id": user_id,
                "session_ids": None if session_ids is None else list(session_ids),
            }
        )
        await self.broker.publish(f"user:{user_id}", frame)

    async def to_person(self, user_id: str, frame: dict[str, Any]) -> None:
        await self.broker.publish(f"user:{user_id}", dumps(frame))

    async def to_company(self, company_id: str, frame: dict[str, Any]) -> None:
        # The company's presence topic: every process with a socket of the company follows it.
        await self.broker.publish(f"presence:{company_id}", dumps(frame))
