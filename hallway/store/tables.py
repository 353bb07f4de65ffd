"""The schema, as SQLAlchemy Core tables. Alembic migrations create exactly this."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from hallway.store.types import UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(36)

companies = Table(
    "companies",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False),
    # Days a message is kept; NULL: forever (hallway/domain/retention_policy.py).
    Column("retention_days", Integer, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    # Expired messages are archived before they are erased.
    Column("archive_expired", Boolean, nullable=False, server_default=false()),
)

users = Table(
    "users",
    metadata,
    Column("id", ID, primary_key=True),
    Column("company_id", ID, ForeignKey("companies.id", ondelete="CASCADE"), nullable=False),
    Column("email", String(320), nullable=False),
    Column("display_name", String(100), nullable=False),
    Column("password_hash", String(200), nullable=True),
    Column("role", String(16), nullable=False),
    Column("external_id", String(255), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    # Set while an admin has deactivated the person: no login, no session, no socket.
    Column("deactivated_at", UTCDateTime, nullable=True),
    # Set once the account is deleted (hallway/domain/account_deletion.py): the row stays
    # so their messages keep a sender, but it is anonymised and can never sign in again.
    Column("deleted_at", UTCDateTime, nullable=True),
    # Notification settings (hallway/domain/notification_settings.py, migration 0014): the
    # person's default level, and "do not disturb" until this time (NULL: off).
    Column("notify_level", String(16), nullable=False, server_default="mentions"),
    Column("dnd_until", UTCDateTime, nullable=True),
    # The person's profile (hallway/domain/profiles.py): a short status, an IANA time zone,
    # and the stored key of their avatar, whose version numbers its URL (a new upload, a
    # new URL).
    Column("status_text", String(100), nullable=True),
    Column("status_emoji", String(64), nullable=True),
    Column("time_zone", String(64), nullable=True),
    Column("avatar_key", String(200), nullable=True),
    Column("avatar_version", Integer, nullable=False, server_default="0"),
    CheckConstraint("role IN ('admin', 'member')", name="role"),
    # Email is the login name, so it is unique across the whole service.
    UniqueConstraint("email", name="uq_users_email"),
    UniqueConstraint("external_id", name="uq_users_external_id"),
    Index("ix_users_company", "company_id", "display_name"),
)

# One row per login: what its access tokens (claim `sid`) and its refresh token speak for.
# The refresh token is `<id>.<generation>.<secret>`; only the current generation's secret
# is kept, hashed. A token of an older generation is a reused one: the session is revoked.
sessions = Table(
    "sessions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("device", String(200), nullable=False),
    Column("address", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("refresh_generation", Integer, nullable=False),
    Column("refresh_hash", String(64), nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    Index("ix_sessions_user", "user_id", "revoked_at"),
)

# A one-time link an admin issues for a person to choose a new password; only its hash is
# kept, so the table does not hold working links.
password_resets = Table(
    "password_resets",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_by", ID, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
    Index("ix_password_resets_user", "user_id"),
)

# A sign-up or a join waiting for its address to be confirmed: the person exists only once
# the mailed link is opened. `company_name` for a new company, `invite_code` for a join.
signup_requests = Table(
    "signup_requests",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("email", String(320), nullable=False),
    Column("display_name", String(100), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("company_name", String(200), nullable=True),
    Column("invite_code", String(64), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
    Index("ix_signup_requests_expires", "expires_at"),
)

invites = Table(
    "invites",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("company_id", ID, ForeignKey("companies.id", ondelete="CASCADE"), nullable=False),
    Column("created_by", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("max_uses", Integer, nullable=True),  # None: any number of people
    Column("uses", Integer, nullable=False, default=0, server_default="0"),
    Column("revoked_at", UTCDateTime, nullable=True),
    Index("ix_invites_company", "company_id", "expires_at"),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", ID, primary_key=True),
    Column("company_id", ID, ForeignKey("companies.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("title", String(200), nullable=True),
    Column("created_by", ID, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    # The pair key makes "one direct conversation per pair of people" a database rule.
    Column("direct_key", String(80), nullable=True),
    # A channel's title as names compare (hallway.store.names): one channel per name.
    Column("channel_key", String(800), nullable=True),
    Column("last_seq", BigInteger, nullable=False, default=0),
    Column("last_activity_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # NULL: the company's policy; 0: forever; N: N days.
    Column("retention_days", Integer, nullable=True),
    # A channel's topic, and while it is archived (read-only) when and by whom
    # (hallway/domain/channel_settings.py).
    Column("topic", String(250), nullable=True),
    Column("archived_at", UTCDateTime, nullable=True),
    Column("archived_by", ID, nullable=True),
    CheckConstraint("kind IN ('direct', 'group', 'channel')", name="kind"),
    UniqueConstraint("direct_key", name="uq_conversations_direct_key"),
    Index("uq_conversations_channel_key", "company_id", "channel_key", unique=True),
    Index("ix_conversations_company_kind", "company_id", "kind"),
)

participants = Table(
    "participants",
    metadata,
    Column(
        "conversation_id",
        ID,
        ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("joined_at", UTCDateTime, nullable=False),
    Column("last_read_seq", BigInteger, nullable=False, default=0),
    # The member's notification settings for this conversation: a level overriding their
    # default (NULL: their default), and muted (no badge; unread still counted).
    Column("notify_level", String(16), nullable=True),
    Column("muted", Boolean, nullable=False, server_default=false()),
    PrimaryKeyConstraint("conversation_id", "user_id"),
    CheckConstraint("role IN ('owner', 'member')", name="role"),
    Index("ix_participants_user", "user_id"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", ID, primary_key=True),
    Column(
        "conversation_id",
        ID,
        ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("seq", BigInteger, nullable=False),
    Column("sender_id", ID, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("client_msg_id", String(64), nullable=True),
    Column("body", Text, nullable=False),
    Column("thread_root_id", ID, ForeignKey("messages.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("edited_at", UTCDateTime, nullable=True),
    Column("deleted_at", UTCDateTime, nullable=True),
    # Who deleted it; NULL while it is not deleted, and when no person did (retention).
    # No foreign key: people go only with their whole company, and SQLite cannot drop a
    # column that has one (migration 0006's downgrade).
    Column("deleted_by", ID, nullable=True),
    # The body as HTML (hallway/domain/message_format.py), rendered when it is written; ""
    # once deleted. NULL for messages from before migration 0015, which readers render as
    # they read them: so setting it NULL is also how a change of the renderer reaches
    # messages already stored.
    Column("body_html", Text, nullable=True),
    # A thread root's summary, kept in the transaction of each reply, deletion and erasure
    # (hallway/domain/threads.py): replies not deleted, the newest one's time, and up to
    # five distinct repliers, newest first, as ids separated by spaces. Others: 0, NULL, ''.
    Column("reply_count", Integer, nullable=False, server_default="0"),
    Column("last_reply_at", UTCDateTime, nullable=True),
    Column("reply_user_ids", String(200), nullable=False, server_default=""),
    UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),
    UniqueConstraint(
        "conversation_id", "sender_id", "client_msg_id", name="uq_messages_client_msg_id"
    ),
    Index("ix_messages_thread", "thread_root_id", "seq"),
    # Search results come newest first; see hallway/store/search.py.
    Index("ix_messages_created", "created_at", "id").ddl_if(dialect="postgresql"),
)
# Full-text search (migration 0003) differs by backend, so it is not part of `messages` nor
# of its SELECT *; hallway/store/search.py names it. PostgreSQL: the generated column
# messages.search_vector (tsvector) and its GIN index ix_messages_search. SQLite: the FTS5
# table message_search over messages' rowids, kept in step by three triggers.

# Who follows which thread (hallway/domain/threads.py): the root's author once it has a
# reply, each replier, and whoever follows it explicitly. `following` false: unfollowed,
# and the row stays so that the next reply does not follow them again. `last_read_seq`:
# the seq of the newest reply they have read.
thread_followers = Table(
    "thread_followers",
    metadata,
    Column("root_id", ID, ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column(
        "conversation_id",
        ID,
        ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("company_id", ID, ForeignKey("companies.id", ondelete="CASCADE"), nullable=False),
    Column("following", Boolean, nullable=False),
    Column("last_read_seq", BigInteger, nullable=False, server_default="0"),
    Column("followed_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("root_id", "user_id", name="pk_thread_followers"),
    Index("ix_thread_followers_user", "user_id", "following"),
)

message_edits = Table(
    "message_edits",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", ID, ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
    Column("old_body", Text, nullable=False),
    Column("edited_by", ID, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("edited_at", UTCDateTime, nullable=False),
    Index("ix_message_edits_message", "message_id", "edited_at"),
)

# Who a message mentions (hallway/domain/mentions.py), resolved when it is sent or edited:
# one row per member mentioned by name (`user_id`, kind 'person'), and one row without a
# person for `@channel` or `@here` (kind 'channel' or 'here'). Only members at that moment
# are stored; the sender never is. `seq` is the message's, so that mentions after a read
# marker are counted without reading messages first.
mentions = Table(
    "mentions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", ID, ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
    Column(
        "conversation_id",
        ID,
        ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("company_id", ID, ForeignKey("companies.id", ondelete="CASCADE"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("kind", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("kind IN ('person', 'channel', 'here')", name="kind"),
    CheckConstraint("(kind = 'person') = (user_id IS NOT NULL)", name="person"),
    Index("ix_mentions_message", "message_id"),
    Index("ix_mentions_user", "user_id", "created_at"),
    Index("ix_mentions_conversation", "conversation_id", "seq"),
)

reactions = Table(
    "reactions",
    metadata,
    Column("message_id", ID, ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("emoji", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("message_id", "user_id", "emoji"),
)

attachments = Table(
    "attachments",
    metadata,
    Column("id", ID, primary_key=True),
    Column("company_id", ID, ForeignKey("companies.id", ondelete="CASCADE"), nullable=False),
    Column(
        "conversation_id",
        ID,
        ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("uploader_id", ID, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("message_id", ID, ForeignKey("messages.id", ondelete="SET NULL"), nullable=True),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(127), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("storage_key", String(512), nullable=False),
    Column("thumb_key", String(512), nullable=True),
    Column("width", Integer, nullable=True),
    Column("height", Integer, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    # Set when the file is to go (its message was deleted, or it was never sent); the row
    # stays until its stored objects are gone, so a failed object delete is retried.
    Column("deleted_at", UTCDateTime, nullable=True),
    Index("ix_attachments_message", "message_id"),
    Index("ix_attachments_orphans", "message_id", "created_at"),
    Index("ix_attachments_deleted", "deleted_at"),
)

events = Table(
    "events",
    metadata,
    Column(
        "conversation_id",
        ID,
        ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("seq", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # The message an event is about (message.*, reaction.*), so that erasing a message
    # finds its events without reading JSON (hallway/domain/erasure.py). No foreign key: a
    # message goes only with its conversation, and so do its events.
    Column("message_id", ID, nullable=True),
    PrimaryKeyConstraint("conversation_id", "seq"),
    Index("ix_events_message", "message_id"),
)

# An export an admin (a company or a conversation) or a person (what they wrote) asked for,
# built in the background into one archive in file storage (hallway/domain/export_jobs.py,
# docs/exports.md). `updated_at` moves with its progress, so a job whose process stopped is
# told from one still running.
exports = Table(
    "exports",
    metadata,
    Column("id", ID, primary_key=True),
    Column("company_id", ID, ForeignKey("companies.id", ondelete="CASCADE"), nullable=False),
    Column("requested_by", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("scope", String(16), nullable=False),
    Column(
        "conversation_id",
        ID,
        ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=True,
    ),
    Column("since", UTCDateTime, nullable=True),
    Column("state", String(16), nullable=False),
    Column("messages_written", BigInteger, nullable=False, default=0),
    Column("messages_total", BigInteger, nullable=True),
    Column("storage_key", String(512), nullable=True),
    Column("size", BigInteger, nullable=True),
    Column("error", String(500), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    CheckConstraint("scope IN ('company', 'conversation', 'person')", name="scope"),
    CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name="state"),
    Index("ix_exports_requester", "requested_by", "created_at"),
    Index("ix_exports_state", "state", "updated_at"),
)

# Which row an imported record became (hallway/slack_import): the key that makes running an
# import again change nothing. `source` names where it came from ("slack"), `kind` the
# record (workspace, user, conversation, message), `scope` what the external id is unique
# within (a message's conversation; "" for the others), and `local_id` the row it is
# now. No foreign key on local_id: it names rows of several tables, and each goes only
# with its company. users.external_id is not used for this: it is the identity provider's
# `sub` (hallway/domain/tokens.py), which signs people in.
import_keys = Table(
    "import_keys",
    metadata,
    Column("company_id", ID, ForeignKey("companies.id", ondelete="CASCADE"), nullable=False),
    Column("source", String(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("scope", String(64), nullable=False),
    Column("external_id", String(255), nullable=False),
    Column("local_id", ID, nullable=False),
    PrimaryKeyConstraint("company_id", "source", "kind", "scope", "external_id"),
    Index("ix_import_keys_external", "source", "kind", "external_id"),
)
