"""The per-process hub: conversation feeds, in seq order, fanned out to local connections.

Topics on the broker:
  conv:<id>      every durable event of the conversation, and its typing frames
  user:<id>      `member.added` and `member.removed` events for that person (their process
                 may not listen to the conversation, or may be reading their conversations),
                 and `sessions_ended` when their sessions end (their sockets close)
  presence:<id>  online/offline changes in a company, batched per PRESENCE_BATCH_SECONDS
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import orjson

from hallway.config import Settings
from hallway.domain.access import conversation_for_member, read_member_conversation_ids
from hallway.domain.context import DomainContext, Event
from hallway.domain.errors import NotFound
from hallway.domain.events import read_events_after, read_last_seqs
from hallway.files.links import FileLinks
from hallway.realtime.broker import Broker
from hallway.realtime.connection import Connection, Subscription
from hallway.realtime.frames import (
    CLOSE_IDLE,
    CLOSE_SLOW_CONSUMER,
    CLOSE_UNAUTHENTICATED,
    dumps,
    error_frame,
    event_frame,
    inbox_frame,
)
from hallway.realtime.presence import Presence

log = logging.getLogger(__name__)

# How long a frame that arrived ahead of a missing seq waits for the missing one to arrive
# from another process before the hub reads it from the log instead.
GAP_GRACE_SECONDS = 0.2

# How often the hub compares its feeds with the conversations' last_seq in the database. A
# lost broker frame is noticed at once when a later one arrives (a gap); this catches the
# lost frame that nothing follows.
FEED_CHECK_SECONDS = 5.0
FEED_CHECK_BATCH = 1000

# Presence changes are announced in batches: when a whole office connects at once, each
# connection gets a few frames listing many people instead of one frame per person (which
# grows with the square of the company's size).
PRESENCE_BATCH_SECONDS = 0.25

# How much of a new message's body an inbox frame carries, for a conversation list preview.
INBOX_PREVIEW_CHARS = 140

# Fields of an event's data an unsubscribed member's inbox needs to keep a list live.
_INBOX_FIELDS = ("sender_id", "user_id", "last_read_seq", "title", "thread_root_id")


class Feed:
    """One conversation on this process: orders its events by seq and fans them out.

    `last` is the highest seq dispatched; frames that arrive ahead of a missing seq wait in
    `pending` until it arrives or is read from the log. Until the first subscriber sets a
    baseline, frames only feed inboxes and are passed on as they come. `removed` holds the
    people whose removal it dispatched (until they are added again): typing frames from
    them, sent before their process learned of it, go nowhere.
    """

    __slots__ = (
        "conversation_id",
        "gap_task",
        "joining",
        "last",
        "members",
        "pending",
        "removed",
    )

    def __init__(self, conversation_id: str) -> None:
        self.conversation_id = conversation_id
        self.last: int | None = None
        self.joining = 0
        self.pending: dict[int, tuple[str, dict[str, Any]]] = {}
        self.members: set[Connection] = set()
        self.removed: set[str] = set()
        self.gap_task: asyncio.Task[None] | None = None


class Hub:
    def __init__(
        self, ctx: DomainContext, broker: Broker, presence: Presence, settings: Settings
    ) -> None:
        self.ctx = ctx
        self.broker = broker
        self.presence = presence
        self.settings = settings
        self.links = ctx.links
        self.feeds: dict[str, Feed] = {}
        self.users: dict[str, set[Connection]] = defaultdict(set)
        self.companies: dict[str, set[Connection]] = defaultdict(set)
        self._presence_task: asyncio.Task[None] | None = None
        self._idle_task: asyncio.Task[None] | None = None
        self._feed_check_task: asyncio.Task[None] | None = None
        self._presence_changes: dict[str, dict[str, str]] = {}  # company -> person -> status
        self._presence_flush: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        # Connections reading their conversations (attach), with the conversations they
        # were removed from meanwhile.
        self._attaching: dict[Connection, set[str]] = {}
        broker.handler = self.on_frame
        broker.reconnected = self._broker_reconnected

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        self._presence_task = asyncio.create_task(self._refresh_presence_forever())
        self._idle_task = asyncio.create_task(self._close_idle_forever())
        self._feed_check_task = asyncio.create_task(self._check_feeds_forever())

    async def close(self) -> None:
        if self._presence_flush is not None:
            self._presence_flush.cancel()
        if self._idle_task is not None:
            self._idle_task.cancel()
        if self._feed_check_task is not None:
            self._feed_check_task.cancel()
        if self._presence_task is not None:
            self._presence_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._presence_task
        for task in list(self._tasks):
            task.cancel()

    # --- connections -------------------------------------------------------------------

    async def attach(self, conn: Connection) -> None:
        """Register an authenticated connection: its conversations feed its inbox.

        Listen, then read: the person's topic is followed before their conversations are
        read, so a removal committed after the read reaches this connection, and one that
        arrives during it keeps the connection out of that conversation's feed."""
        actor = conn.actor
        first_here = not self.users[actor.user_id]
        self.users[actor.user_id].add(conn)
        new_company = not self.companies[actor.company_id]
        self.companies[actor.company_id].add(conn)
        topics = [f"user:{actor.user_id}"] if first_here else []
        if new_company:
            topics.append(f"presence:{actor.company_id}")
        removed_meanwhile: set[str] = set()
        self._attaching[conn] = removed_meanwhile
        try:
            if topics:
                await self.broker.subscribe(topics)
            async with self.ctx.db.read() as db:
                ids = await read_member_conversation_ids(db, actor)
        finally:
            del self._attaching[conn]
        if conn.closed:
            return  # the session detaches it
        joined = [i for i in ids if i not in removed_meanwhile]
        feed_topics = self._join_feeds(conn, joined)
        if feed_topics:
            await self.broker.subscribe(feed_topics)
        if first_here:
            await self.presence.mark_online(actor.company_id, [actor.user_id])
            self._announce_presence(actor.company_id, actor.user_id, "online")

    def connection_count(self, user_id: str) -> int:
        """How many sockets of this person this process holds."""
        conns = self.users.get(user_id)
        return len(conns) if conns else 0

    async def detach(self, conn: Connection) -> None:
        actor = conn.actor
        topics: list[str] = []
        # A subscribe still reading the log has its feed but not yet the conversation.
        for conversation_id in conn.conversations | conn.subscriptions.keys():
            topics.extend(self._leave_feed(conn, conversation_id))
        users = self.users[actor.user_id]
        users.discard(conn)
        last_here = not users
        if last_here:
            del self.users[actor.user_id]
            topics.append(f"user:{actor.user_id}")
        company = self.companies[actor.company_id]
        company.discard(conn)
        if not company:
            del self.companies[actor.company_id]
            topics.append(f"presence:{actor.company_id}")
        if topics:
            await self.broker.unsubscribe(topics)
        if last_here and await self.presence.mark_offline(actor.company_id, actor.user_id):
            self._announce_presence(actor.company_id, actor.user_id, "offline")

    def _announce_presence(self, company_id: str, user_id: str, status: str) -> None:
        # The latest status wins: a reconnect within one batch announces nothing new.
        self._presence_changes.setdefault(company_id, {})[user_id] = status
        if self._presence_flush is None:
            self._presence_flush = asyncio.get_running_loop().create_task(self._flush_presence())

    async def _flush_presence(self) -> None:
        await asyncio.sleep(PRESENCE_BATCH_SECONDS)
        changes, self._presence_changes = self._presence_changes, {}
        self._presence_flush = None
        for company_id, people in changes.items():
            frame = dumps(
                {
                    "type": "presence",
                    "users": [{"user_id": u, "status": s} for u, s in people.items()],
                }
            )
            try:
                await self.broker.publish(f"presence:{company_id}", frame)
            except Exception:
                log.exception("publishing presence failed")

    def _join_feeds(self, conn: Connection, conversation_ids: Sequence[str]) -> list[str]:
        """Add the connection to these conversations' feeds; returns topics newly needed."""
        topics = []
        for conversation_id in conversation_ids:
            feed = self.feeds.get(conversation_id)
            if feed is None:
                feed = self.feeds[conversation_id] = Feed(conversation_id)
                topics.append(f"conv:{conversation_id}")
            feed.members.add(conn)
            conn.conversations.add(conversation_id)
        return topics

    async def _drop_if_unused(self, feed: Feed) -> None:
        if feed.members or feed.joining or self.feeds.get(feed.conversation_id) is not feed:
            return
        del self.feeds[feed.conversation_id]
        if feed.gap_task is not None:
            feed.gap_task.cancel()
        await self.broker.unsubscribe([f"conv:{feed.conversation_id}"])

    def _leave_feed(self, conn: Connection, conversation_id: str) -> list[str]:
        conn.conversations.discard(conversation_id)
        conn.subscriptions.pop(conversation_id, None)
        feed = self.feeds.get(conversation_id)
        if feed is None:
            return []
        feed.members.discard(conn)
        if feed.members or feed.joining:
            return []
        del self.feeds[conversation_id]
        if feed.gap_task is not None:
            feed.gap_task.cancel()
        return [f"conv:{conversation_id}"]

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
        feed = self.feeds.get(conversation_id)
        if feed is None:
            feed = self.feeds[conversation_id] = Feed(conversation_id)
        feed.joining += 1  # pins the feed, and holds early frames while it has no baseline
        sub = Subscription()
        try:
            await self.broker.subscribe([f"conv:{conversation_id}"])
            if conn.closed:
                return
            conn.subscriptions[conversation_id] = sub
            feed.members.add(conn)
            async with self.ctx.db.read() as db:
                conversation = await conversation_for_member(db, conn.actor, conversation_id)
                last_seq = int(conversation.last_seq)
                start = last_seq if after_seq is None else min(after_seq, last_seq)
                replay = await read_events_after(
                    db, conversation_id, start, self.settings.ws_replay_limit + 1
                )
            if feed.last is None:
                feed.last = last_seq
                self._drain(feed)
            elif feed.last > last_seq:
                # Another subscriber's later snapshot set the feed's baseline, and the
                # frames up to it were never dispatched: this one reads them instead.
                upto = feed.last
                if after_seq is None:
                    start = upto
                elif len(replay) <= self.settings.ws_replay_limit:
                    async with self.ctx.db.read() as db:
                        replay += await read_events_after(
                            db, conversation_id, last_seq, upto - last_seq
                        )
                last_seq = upto
        except NotFound:
            current = conn.subscriptions.get(conversation_id) is sub
            if current:
                self._leave_feed(conn, conversation_id)
            if current or sub.removed:
                conn.send(
                    error_frame(
                        "not_found", "conversation not found", conversation_id=conversation_id
                    )
                )
            return
        finally:
            feed.joining -= 1
            await self._drop_if_unused(feed)
        if conn.subscriptions.get(conversation_id) is not sub:
            # Unsubscribed, subscribed again, or removed while the log was read: its
            # membership as read is out of date.
            if sub.removed:
                conn.send(
                    error_frame(
                        "not_found", "conversation not found", conversation_id=conversation_id
                    )
                )
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
        """Send `subscribed`, the replay (or `resync` when it is too long), then what the
        feed buffered meanwhile; the subscription is live from then on."""
        conn.send(
            dumps({"type": "subscribed", "conversation_id": conversation_id, "last_seq": last_seq})
        )
        if len(replay) > self.settings.ws_replay_limit:
            conn.send(
                dumps({"type": "resync", "conversation_id": conversation_id, "last_seq": last_seq})
            )
            sub.delivered = last_seq
        else:
            sub.delivered = start
            # Live frames keep collecting in sub.buffer while the replay waits for room.
            for event in replay:
                await conn.send_when_room(event_frame(event, self.links))
                if conn.subscriptions.get(conversation_id) is not sub:
                    return  # unsubscribed or removed meanwhile
                sub.delivered = event.seq
        buffered, sub.buffer = sub.buffer or [], None
        for seq, frame in buffered:  # in seq order: the feed dispatches in order
            # The feed may lag the snapshot (frames still in flight from another
            # process), so its first frames can repeat what the replay sent.
            if seq > sub.delivered:
                conn.send(frame)
                sub.delivered = seq

    def unsubscribe(self, conn: Connection, conversation_id: str) -> None:
        conn.subscriptions.pop(conversation_id, None)
        if conversation_id not in conn.conversations:
            # Still subscribing: membership unconfirmed, so no inbox frames either.
            feed = self.feeds.get(conversation_id)
            if feed is not None:
                feed.members.discard(conn)

    async def typing(self, conn: Connection, conversation_id: str) -> None:
        if conversation_id not in conn.conversations:
            conn.send(
                error_frame("not_found", "conversation not found", conversation_id=conversation_id)
            )
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
                self._accept(feed, meta["seq"], frame, meta)
            elif meta["type"] == "typing" and meta["user_id"] not in feed.removed:
                for conn in feed.members:
                    sub = conn.subscriptions.get(key)
                    if sub is not None and sub.buffer is None:  # live, membership confirmed
                        conn.send(frame)
        elif kind == "user":
            if meta["type"] == "sessions_ended":
                self._sessions_ended(key, meta["session_ids"])
            elif meta.get("kind") == "member.added":
                self._members_added(meta["conversation_id"], [key], meta)
            elif meta.get("kind") == "member.removed":
                self._member_removed(meta["conversation_id"], key, meta["seq"])
        elif kind == "presence":
            for conn in self.companies.get(key, ()):
                conn.send(frame)

    def _accept(self, feed: Feed, seq: int, frame: str, meta: dict[str, Any]) -> None:
        if feed.last is None:
            if feed.joining:
                feed.pending[seq] = (frame, meta)
            else:
                self._dispatch(feed, seq, frame, meta)
            return
        if seq <= feed.last:
            return
        feed.pending[seq] = (frame, meta)
        self._drain(feed)

    def _drain(self, feed: Feed) -> None:
        """Dispatch pending frames in order from feed.last; fetch a lasting gap from the log."""
        assert feed.last is not None
        for seq in [s for s in feed.pending if s <= feed.last]:
            del feed.pending[seq]
        while feed.last + 1 in feed.pending:
            feed.last += 1
            frame, meta = feed.pending.pop(feed.last)
            self._dispatch(feed, feed.last, frame, meta)
        if feed.pending and (feed.gap_task is None or feed.gap_task.done()):
            feed.gap_task = asyncio.get_running_loop().create_task(self._fill_gap(feed))

    async def _fill_gap(self, feed: Feed) -> None:
        await asyncio.sleep(GAP_GRACE_SECONDS)
        while feed.pending and feed.last is not None and self.feeds.get(feed.conversation_id):
            before = feed.last
            await self._dispatch_from_log(feed, min(feed.pending) - 1)
            if feed.last == before:
                log.warning(
                    "seq gap in %s after %s not in the log yet", feed.conversation_id, before
                )
                await asyncio.sleep(GAP_GRACE_SECONDS)

    async def _dispatch_from_log(self, feed: Feed, upto: int) -> None:
        """Read the feed's events after feed.last up to seq `upto` from the log and dispatch
        them in order, with whatever else is pending."""
        assert feed.last is not None
        async with self.ctx.db.read() as db:
            missing = await read_events_after(db, feed.conversation_id, feed.last, upto - feed.last)
        for event in missing:
            frame = event_frame(event, self.links)
            feed.pending.setdefault(event.seq, (frame, orjson.loads(frame)))
        self._drain(feed)

    async def _check_feeds_forever(self) -> None:
        while True:
            await asyncio.sleep(FEED_CHECK_SECONDS)
            try:
                await self.check_feeds()
            except Exception:
                log.exception("checking feeds against the log failed")

    def _broker_reconnected(self) -> None:
        # Frames published while the broker was away never arrive: read them now rather
        # than at the next periodic check.
        self.spawn(self.check_feeds())

    async def check_feeds(self) -> None:
        """Catch up feeds the database says are behind, and still are after a grace period
        for frames in flight."""
        behind: list[tuple[Feed, int]] = []
        live = [f for f in self.feeds.values() if f.last is not None]
        for start in range(0, len(live), FEED_CHECK_BATCH):
            batch = {f.conversation_id: f for f in live[start : start + FEED_CHECK_BATCH]}
            async with self.ctx.db.read() as db:
                last_seqs = await read_last_seqs(db, list(batch))
            for conversation_id, last_seq in last_seqs.items():
                feed = batch[conversation_id]
                if feed.last is not None and last_seq > feed.last:
                    behind.append((feed, int(last_seq)))
        if not behind:
            return
        await asyncio.sleep(GAP_GRACE_SECONDS)
        for feed, last_seq in behind:
            if (
                self.feeds.get(feed.conversation_id) is feed
                and feed.last is not None
                and feed.last < last_seq
            ):
                log.warning(
                    "feed %s was behind the log (%s < %s): frames lost by the broker",
                    feed.conversation_id,
                    feed.last,
                    last_seq,
                )
                await self._dispatch_from_log(feed, last_seq)

    def _dispatch(self, feed: Feed, seq: int, frame: str, meta: dict[str, Any]) -> None:
        conversation_id = feed.conversation_id
        kind = meta["kind"]
        data = meta["data"]
        inbox: str | None = None
        for conn in feed.members:
            sub = conn.subscriptions.get(conversation_id)
            if sub is not None:
                if sub.buffer is not None:
                    # Held while its replay runs; counted against the socket buffer it goes to.
                    sub.buffered_bytes += len(frame)
                    if conn.overflowing(sub.buffered_bytes):
                        conn.close(CLOSE_SLOW_CONSUMER, "slow consumer: resume with after_seq")
                    sub.buffer.append((seq, frame))
                elif seq > sub.delivered:
                    sub.delivered = seq
                    conn.send(frame)
            else:
                if inbox is None:
                    extra = {k: data[k] for k in _INBOX_FIELDS if k in data}
                    if kind == "message.created":
                        extra["preview"] = data["body"][:INBOX_PREVIEW_CHARS]
                    inbox = inbox_frame("activity", conversation_id, seq=seq, event=kind, **extra)
                conn.send(inbox)
        if kind == "member.removed":
            feed.removed.add(data["user_id"])
            self._member_removed(conversation_id, data["user_id"], seq)
        elif kind == "member.added":
            feed.removed.difference_update(data["user_ids"])
            self._members_added(conversation_id, data["user_ids"], meta)

    def _member_removed(self, conversation_id: str, user_id: str, seq: int) -> None:
        """Delivery to a removed person stops here, before the next event of the feed.

        Reached from the conversation's feed and from the person's own topic, whichever
        comes first; the second finds nothing left to do."""
        topics: list[str] = []
        for conn in list(self.users.get(user_id, ())):
            sub = conn.subscriptions.get(conversation_id)
            if sub is not None:
                sub.removed = True  # a subscribe still under way answers not_found
            if conversation_id in conn.conversations:
                topics.extend(self._leave_feed(conn, conversation_id))
                conn.send(inbox_frame("removed", conversation_id, seq=seq))
            elif sub is not None:
                topics.extend(self._leave_feed(conn, conversation_id))
            removed_meanwhile = self._attaching.get(conn)
            if removed_meanwhile is not None:
                removed_meanwhile.add(conversation_id)
        if topics:
            self.spawn(self.broker.unsubscribe(topics))

    def _sessions_ended(self, user_id: str, session_ids: list[str] | None) -> None:
        """Close the person's sockets of these sessions (None: all): revoked, logged out,
        or the person deactivated."""
        if session_ids is not None:
            self.ctx.session_states.forget(session_ids)
        for conn in list(self.users.get(user_id, ())):
            if session_ids is None or conn.actor.session_id in session_ids:
                conn.close(CLOSE_UNAUTHENTICATED, "session_revoked")

    def _members_added(
        self, conversation_id: str, user_ids: list[str], meta: dict[str, Any]
    ) -> None:
        topics: list[str] = []
        for user_id in user_ids:
            for conn in self.users.get(user_id, ()):
                if conversation_id in conn.conversations:
                    continue
                topics.extend(self._join_feeds(conn, [conversation_id]))
                conn.send(
                    inbox_frame(
                        "added",
                        conversation_id,
                        seq=meta["seq"],
                        conversation=meta["data"].get("conversation"),
                    )
                )
        if topics:
            self.spawn(self.broker.subscribe(topics))

    def spawn(self, coro: Any) -> None:
        """Run a background step of the hub (kept referenced; cancelled on close)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _close_idle_forever(self) -> None:
        """Close connections that sent nothing (not even a ping) within the idle timeout.
        One sweep for all connections costs less than a timer per connection."""
        timeout = self.settings.ws_idle_timeout_seconds
        while True:
            await asyncio.sleep(min(timeout / 4, 5.0))
            deadline = time.monotonic() - timeout
            for conns in list(self.users.values()):
                for conn in list(conns):
                    if conn.last_seen < deadline:
                        conn.close(CLOSE_IDLE, "no frame within the idle timeout; send ping")

    async def _refresh_presence_forever(self) -> None:
        interval = self.settings.presence_ttl_seconds / 3
        while True:
            await asyncio.sleep(interval)
            by_company: dict[str, list[str]] = defaultdict(list)
            for user_id, conns in self.users.items():
                for conn in conns:
                    by_company[conn.actor.company_id].append(user_id)
                    break
            for company_id, user_ids in by_company.items():
                try:
                    await self.presence.mark_online(company_id, user_ids)
                except Exception:
                    log.exception("refreshing presence failed")


class HubPublisher:
    """The domain's EventPublisher: serialises each committed event once and publishes it."""

    def __init__(self, broker: Broker, links: FileLinks) -> None:
        self.broker = broker
        self.links = links

    async def publish(self, events: Sequence[Event]) -> None:
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
