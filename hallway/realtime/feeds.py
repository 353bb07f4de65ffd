"""Conversation feeds: each conversation followed on this process, its events put in seq
order and fanned out to the local connections, with gaps filled from the log."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any, Protocol

import orjson
from prometheus_client import Counter

from hallway.domain.context import DomainContext
from hallway.domain.events import read_events_after, read_last_seqs
from hallway.metrics import (
    DELIVERED_INBOX,
    DELIVERED_LIVE,
    FANOUT_SECONDS,
    GAP_FILLS_CHECK,
    GAP_FILLS_GAP,
    REALTIME_SUBSCRIPTIONS,
)
from hallway.realtime.broker import Broker
from hallway.realtime.connection import Connection
from hallway.realtime.frames import CLOSE_SLOW_CONSUMER, event_frame, inbox_frame
from hallway.store.acting import as_system

log = logging.getLogger(__name__)

# How long a frame that arrived ahead of a missing seq waits for the missing one to arrive
# from another process before it is read from the log instead.
GAP_GRACE_SECONDS = 0.2

# How many feeds one query compares with the conversations' last_seq.
FEED_CHECK_BATCH = 1000

# How much of a new message's body an inbox frame carries, for a conversation list preview.
INBOX_PREVIEW_CHARS = 140

# Fields of an event's data an unsubscribed member's inbox needs to keep a list live.
_INBOX_FIELDS = ("sender_id", "user_id", "last_read_seq", "title", "thread_root_id")
_INBOX_MENTIONS = ("mentions", "mention_kind")


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


class MembershipChanges(Protocol):
    """Told, as a feed dispatches them, of the membership events it carries: delivery to
    the people concerned changes before the feed's next event."""

    def member_removed(self, conversation_id: str, user_id: str, seq: int) -> None: ...

    def members_added(
        self, conversation_id: str, user_ids: list[str], meta: dict[str, Any]
    ) -> None: ...


class Feeds:
    """The feeds of this process, by conversation."""

    def __init__(self, ctx: DomainContext, broker: Broker) -> None:
        self.ctx = ctx
        self.broker = broker
        self.links = ctx.links
        self.membership: MembershipChanges | None = None
        self._feeds: dict[str, Feed] = {}

    def get(self, conversation_id: str) -> Feed | None:
        return self._feeds.get(conversation_id)

    def open(self, conversation_id: str) -> Feed:
        """The conversation's feed, made if this process had none."""
        feed = self._feeds.get(conversation_id)
        if feed is None:
            feed = self._feeds[conversation_id] = Feed(conversation_id)
        return feed

    def is_current(self, feed: Feed) -> bool:
        """Whether the feed still serves its conversation (it is not dropped)."""
        return self._feeds.get(feed.conversation_id) is feed

    def join(self, conn: Connection, conversation_ids: Sequence[str]) -> list[str]:
        """Add the connection to these conversations' feeds; returns topics newly needed."""
        topics = []
        for conversation_id in conversation_ids:
            feed = self._feeds.get(conversation_id)
            if feed is None:
                feed = self._feeds[conversation_id] = Feed(conversation_id)
                topics.append(f"conv:{conversation_id}")
            feed.members.add(conn)
            conn.conversations.add(conversation_id)
        return topics

    def leave(self, conn: Connection, conversation_id: str) -> list[str]:
        """Take the connection off the conversation's feed; returns topics no longer needed."""
        conn.conversations.discard(conversation_id)
        if conn.subscriptions.pop(conversation_id, None) is not None:
            REALTIME_SUBSCRIPTIONS.dec()
        feed = self._feeds.get(conversation_id)
        if feed is None:
            return []
        feed.members.discard(conn)
        if feed.members or feed.joining:
            return []
        self._drop(feed)
        return [f"conv:{conversation_id}"]

    async def drop_if_unused(self, feed: Feed) -> None:
        if feed.members or feed.joining or not self.is_current(feed):
            return
        self._drop(feed)
        await self.broker.unsubscribe([f"conv:{feed.conversation_id}"])

    def _drop(self, feed: Feed) -> None:
        del self._feeds[feed.conversation_id]
        if feed.gap_task is not None:
            feed.gap_task.cancel()

    # --- ordering ----------------------------------------------------------------------

    def accept(self, feed: Feed, seq: int, frame: str, meta: dict[str, Any]) -> None:
        """An event frame from the broker, in whatever order it arrived."""
        if feed.last is None:
            if feed.joining:
                feed.pending[seq] = (frame, meta)
            else:
                self._dispatch(feed, seq, frame, meta)
            return
        if seq <= feed.last:
            return
        feed.pending[seq] = (frame, meta)
        self.drain(feed)

    def drain(self, feed: Feed) -> None:
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
        while feed.pending and feed.last is not None and self._feeds.get(feed.conversation_id):
            before = feed.last
            await self._dispatch_from_log(feed, min(feed.pending) - 1, GAP_FILLS_GAP)
            if feed.last == before:
                log.warning(
                    "seq gap in %s after %s not in the log yet", feed.conversation_id, before
                )
                await asyncio.sleep(GAP_GRACE_SECONDS)

    async def _dispatch_from_log(self, feed: Feed, upto: int, filled: Counter) -> None:
        """Read the feed's events after feed.last up to seq `upto` from the log and dispatch
        them in order, with whatever else is pending; counted in `filled`."""
        assert feed.last is not None
        # Taken before waiting for a connection: live frames may move feed.last on meanwhile
        # (past `upto`, even), and drain drops what they already dispatched.
        after = feed.last
        if upto <= after:
            return
        # A feed serves everyone on it: it reads the log as the system.
        with as_system():
            async with self.ctx.db.read() as db:
                missing = await read_events_after(db, feed.conversation_id, after, upto - after)
        filled.inc(len(missing))
        for event in missing:
            frame = event_frame(event, self.links)
            feed.pending.setdefault(event.seq, (frame, orjson.loads(frame)))
        self.drain(feed)

    async def catch_up(self) -> None:
        """Catch up feeds the database says are behind, and still are after a grace period
        for frames in flight: a lost broker frame that nothing follows shows no gap."""
        behind: list[tuple[Feed, int]] = []
        live = [f for f in self._feeds.values() if f.last is not None]
        for start in range(0, len(live), FEED_CHECK_BATCH):
            batch = {f.conversation_id: f for f in live[start : start + FEED_CHECK_BATCH]}
            with as_system():
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
            if self.is_current(feed) and feed.last is not None and feed.last < last_seq:
                log.warning(
                    "feed %s was behind the log (%s < %s): frames lost by the broker",
                    feed.conversation_id,
                    feed.last,
                    last_seq,
                )
                await self._dispatch_from_log(feed, last_seq, GAP_FILLS_CHECK)

    # --- fan-out -----------------------------------------------------------------------

    def _dispatch(self, feed: Feed, seq: int, frame: str, meta: dict[str, Any]) -> None:
        started = time.perf_counter()
        conversation_id = feed.conversation_id
        kind = meta["kind"]
        data = meta["data"]
        inbox: str | None = None
        # Counted here and added to the metrics once per event, not once per socket.
        live = inboxed = 0
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
                    live += 1
            else:
                if inbox is None:
                    extra = {k: data[k] for k in _INBOX_FIELDS if k in data}
                    if kind == "message.created":
                        extra["preview"] = data["body"][:INBOX_PREVIEW_CHARS]
                        # Enough for a client to decide on a notification and open the
                        # conversation at the message; mentions only when there are some.
                        extra["message_id"] = data["id"]
                        extra.update({k: data[k] for k in _INBOX_MENTIONS if data.get(k)})
                    inbox = inbox_frame("activity", conversation_id, seq=seq, event=kind, **extra)
                conn.send(inbox)
                inboxed += 1
        if live:
            DELIVERED_LIVE.inc(live)
        if inboxed:
            DELIVERED_INBOX.inc(inboxed)
        FANOUT_SECONDS.observe(time.perf_counter() - started)
        if kind == "member.removed":
            feed.removed.add(data["user_id"])
            if self.membership is not None:
                self.membership.member_removed(conversation_id, data["user_id"], seq)
        elif kind == "member.added":
            feed.removed.difference_update(data["user_ids"])
            if self.membership is not None:
                self.membership.members_added(conversation_id, data["user_ids"], meta)

    def typing(self, feed: Feed, user_id: str, frame: str) -> None:
        """A typing frame: to the live subscribers whose membership is confirmed, unless its
        sender's removal was dispatched here."""
        if user_id in feed.removed:
            return
        for conn in feed.members:
            sub = conn.subscriptions.get(feed.conversation_id)
            if sub is not None and sub.buffer is None:
                conn.send(frame)
