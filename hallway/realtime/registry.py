"""The connections this process holds, by person and by company, and what changes for them
when their person joins or leaves a conversation, or their sessions end."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from hallway.domain.session_states import SessionStates
from hallway.realtime.background import BackgroundTasks
from hallway.realtime.broker import Broker
from hallway.realtime.connection import Connection
from hallway.realtime.feeds import Feeds
from hallway.realtime.frames import CLOSE_IDLE, CLOSE_UNAUTHENTICATED, inbox_frame


class ConnectionRegistry:
    """Every authenticated connection of this process, found by its person or company."""

    def __init__(
        self,
        feeds: Feeds,
        broker: Broker,
        session_states: SessionStates,
        background: BackgroundTasks,
    ) -> None:
        self.feeds = feeds
        self.broker = broker
        self.session_states = session_states
        self.background = background
        self._by_user: dict[str, set[Connection]] = defaultdict(set)
        self._by_company: dict[str, set[Connection]] = defaultdict(set)
        # Connections reading their conversations, with the conversations they were
        # removed from meanwhile.
        self._reading: dict[Connection, set[str]] = {}

    def add(self, conn: Connection) -> tuple[list[str], bool]:
        """Register the connection: returns the topics it newly needs (its person's, its
        company's presence), and whether it is its person's first here."""
        actor = conn.actor
        first_here = not self._by_user[actor.user_id]
        self._by_user[actor.user_id].add(conn)
        new_company = not self._by_company[actor.company_id]
        self._by_company[actor.company_id].add(conn)
        topics = [f"user:{actor.user_id}"] if first_here else []
        if new_company:
            topics.append(f"presence:{actor.company_id}")
        return topics, first_here

    @contextmanager
    def reading_conversations(self, conn: Connection) -> Iterator[set[str]]:
        """While the connection's conversations are read: the set of those its person is
        removed from meanwhile, which the read may still list."""
        removed_meanwhile: set[str] = set()
        self._reading[conn] = removed_meanwhile
        try:
            yield removed_meanwhile
        finally:
            del self._reading[conn]

    def remove(self, conn: Connection) -> tuple[list[str], bool]:
        """Unregister the connection and take it off its feeds: returns the topics no longer
        needed, and whether it was its person's last here."""
        actor = conn.actor
        topics: list[str] = []
        # A subscribe still reading the log has its feed but not yet the conversation.
        for conversation_id in conn.conversations | conn.subscriptions.keys():
            topics.extend(self.feeds.leave(conn, conversation_id))
        users = self._by_user[actor.user_id]
        users.discard(conn)
        last_here = not users
        if last_here:
            del self._by_user[actor.user_id]
            topics.append(f"user:{actor.user_id}")
        company = self._by_company[actor.company_id]
        company.discard(conn)
        if not company:
            del self._by_company[actor.company_id]
            topics.append(f"presence:{actor.company_id}")
        return topics, last_here

    def count(self, user_id: str) -> int:
        """How many sockets of this person this process holds."""
        conns = self._by_user.get(user_id)
        return len(conns) if conns else 0

    def of_person(self, user_id: str) -> Iterable[Connection]:
        return self._by_user.get(user_id, ())

    def in_company(self, company_id: str) -> Iterable[Connection]:
        return self._by_company.get(company_id, ())

    def people_by_company(self) -> dict[str, list[str]]:
        """The people connected here, by company."""
        by_company: dict[str, list[str]] = defaultdict(list)
        for user_id, conns in self._by_user.items():
            for conn in conns:
                by_company[conn.actor.company_id].append(user_id)
                break
        return by_company

    def close_idle(self, last_seen_before: float) -> None:
        """Close the connections that sent nothing since then (not even a ping)."""
        for conns in list(self._by_user.values()):
            for conn in list(conns):
                if conn.last_seen < last_seen_before:
                    conn.close(CLOSE_IDLE, "no frame within the idle timeout; send ping")

    def sessions_ended(self, user_id: str, session_ids: list[str] | None) -> None:
        """Close the person's sockets of these sessions (None: all): revoked, logged out,
        or the person deactivated."""
        if session_ids is not None:
            self.session_states.forget(session_ids)
        for conn in list(self._by_user.get(user_id, ())):
            if session_ids is None or conn.actor.session_id in session_ids:
                conn.close(CLOSE_UNAUTHENTICATED, "session_revoked")

    # --- membership, as the feeds dispatch it (feeds.MembershipChanges) ----------------

    def member_removed(self, conversation_id: str, user_id: str, seq: int) -> None:
        """Delivery to a removed person stops here, before the next event of the feed.

        Reached from the conversation's feed and from the person's own topic, whichever
        comes first; the second finds nothing left to do."""
        topics: list[str] = []
        for conn in list(self._by_user.get(user_id, ())):
            sub = conn.subscriptions.get(conversation_id)
            if sub is not None:
                sub.removed = True  # a subscribe still under way answers not_found
            if conversation_id in conn.conversations:
                topics.extend(self.feeds.leave(conn, conversation_id))
                conn.send(inbox_frame("removed", conversation_id, seq=seq))
            elif sub is not None:
                topics.extend(self.feeds.leave(conn, conversation_id))
            removed_meanwhile = self._reading.get(conn)
            if removed_meanwhile is not None:
                removed_meanwhile.add(conversation_id)
        if topics:
            self.background.spawn(self.broker.unsubscribe(topics))

    def members_added(
        self, conversation_id: str, user_ids: list[str], meta: dict[str, Any]
    ) -> None:
        topics: list[str] = []
        for user_id in user_ids:
            for conn in self._by_user.get(user_id, ()):
                if conversation_id in conn.conversations:
                    continue
                topics.extend(self.feeds.join(conn, [conversation_id]))
                conn.send(
                    inbox_frame(
                        "added",
                        conversation_id,
                        seq=meta["seq"],
                        conversation=meta["data"].get("conversation"),
                    )
                )
        if topics:
            self.background.spawn(self.broker.subscribe(topics))
