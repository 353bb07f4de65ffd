"""Request and response bodies. Requests refuse unknown fields; responses document the API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
)

from hallway.domain.accounts import EMAIL_PATTERN
from hallway.domain.cursors import CURSOR_PATTERN

# Rules the domain checks itself, with codes of their own (`invalid_email`,
# `invalid_cursor`): documented in the schema, not checked a second time.
EMAIL_RULE: dict[str, Any] = {"pattern": EMAIL_PATTERN}
CURSOR_RULE: dict[str, Any] = {"pattern": CURSOR_PATTERN}
CURSOR_DESCRIPTION = "a `next_cursor` from the previous page, passed back unchanged"


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        """PostgreSQL cannot store a NUL character in text (nor compare one), and no name,
        id or message needs one: refuse it at the edge, naming the field."""
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(t, str) and "\x00" in t for t in texts):
            raise ValueError("must not contain NUL characters")
        return value


# --- requests -------------------------------------------------------------------------------


class SignupRequest(Request):
    company_name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320, json_schema_extra=EMAIL_RULE)
    password: str = Field(min_length=1, max_length=1024)
    display_name: str = Field(min_length=1, max_length=100)


class LoginRequest(Request):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class JoinRequest(Request):
    invite_code: str = Field(min_length=1, max_length=64)
    email: str = Field(min_length=3, max_length=320, json_schema_extra=EMAIL_RULE)
    password: str = Field(min_length=1, max_length=1024)
    display_name: str = Field(min_length=1, max_length=100)


class InviteRequest(Request):
    max_uses: int | None = Field(
        default=None, ge=1, le=1000, description="how many people may join with it; unset: any"
    )
    expires_in: int | None = Field(
        default=None,
        ge=60,
        description="seconds it stays good; unset and at most: HALLWAY_INVITE_TTL_SECONDS",
    )


class RefreshRequest(Request):
    refresh_token: str = Field(min_length=1, max_length=200)


class PasswordChangeRequest(Request):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class SignupConfirmation(Request):
    token: str = Field(
        min_length=1, max_length=100, description="from the mailed link, after `#/welcome/`"
    )


class SignupPending(BaseModel):
    email: str = Field(description="where the link that finishes it was mailed")
    expires_in: int = Field(description="seconds the link stays good")


class PasswordResetRequest(Request):
    token: str = Field(min_length=1, max_length=100, description="from the reset link")
    new_password: str = Field(min_length=1, max_length=1024)


class PersonChangeRequest(Request):
    role: Literal["admin", "member"]


class PersonDeletionRequest(Request):
    erase_messages: StrictBool = Field(
        default=False,
        description='erase every message of theirs too; false: they stay, under "former member"',
    )


class AccountDeletionRequest(PersonDeletionRequest):
    password: str = Field(min_length=1, max_length=1024, description="your current password")


RetentionDays = Annotated[StrictInt, Field(ge=1, le=36_500)]


def _one_error(sentence: str) -> WrapValidator:
    """A union answers one error per member; the caller needs one sentence."""

    def validate(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise ValueError(sentence) from None

    return WrapValidator(validate)


CompanyRetentionValue = Annotated[
    RetentionDays | Literal["forever"],
    _one_error('a number of days, 1 to 36,500, or "forever"'),
]
ConversationRetentionValue = Annotated[
    RetentionDays | Literal["forever", "company"],
    _one_error('a number of days, 1 to 36,500, "forever" or "company"'),
]


class CompanyRetention(BaseModel):
    retention: CompanyRetentionValue = Field(description="days a message is kept, or forever")
    archive_expired: bool = Field(
        description="expired messages are archived before they are erased"
    )


class CompanyRetentionChange(Request):
    retention: CompanyRetentionValue | None = Field(
        default=None,
        description='days a message is kept (1 to 36,500), or "forever"; absent: unchanged',
    )
    archive_expired: StrictBool | None = Field(default=None, description="absent: unchanged")


class ConversationRetention(BaseModel):
    retention: ConversationRetentionValue = Field(
        description="this conversation's own choice: days, forever, or the company's policy"
    )
    effective: CompanyRetentionValue = Field(description="what applies to it")


class ConversationRetentionChange(Request):
    retention: ConversationRetentionValue = Field(
        description='days (1 to 36,500), "forever", or "company": the company\'s policy'
    )


class CreateConversationRequest(Request):
    kind: Literal["direct", "group", "channel"]
    title: str | None = Field(default=None, max_length=1000)
    member_ids: list[str] = Field(default_factory=list, max_length=10_000)


class UpdateConversationRequest(Request):
    title: str | None = Field(max_length=1000)


class AddMembersRequest(Request):
    user_ids: list[str] = Field(min_length=1, max_length=1000)


class SendMessageRequest(Request):
    body: str = Field(default="", max_length=1_000_000)
    client_msg_id: str | None = Field(default=None, max_length=64)
    attachment_ids: list[str] = Field(default_factory=list, max_length=100)
    thread_root_id: str | None = Field(default=None, max_length=36)


class HistoryWindowQuery(BaseModel):
    limit: int = Field(default=20, ge=1, le=100)
    before: str | None = Field(
        default=None, max_length=200, description=CURSOR_DESCRIPTION, json_schema_extra=CURSOR_RULE
    )


class EditMessageRequest(Request):
    body: str = Field(max_length=1_000_000)


class MarkReadRequest(Request):
    seq: int = Field(ge=0)


class MarkUnreadRequest(Request):
    seq: int = Field(ge=1, description="the message that becomes the first unread one")


class ChannelTopicRequest(Request):
    topic: str | None = Field(max_length=1000, description="at most 250 characters; null clears")


class ProfileRequest(Request):
    display_name: str | None = Field(default=None, max_length=1000)
    status_text: str | None = Field(
        default=None, max_length=1000, description='at most 100 characters; "" clears'
    )
    status_emoji: str | None = Field(
        default=None, max_length=100, description='one emoji, as reactions take it; "" clears'
    )
    time_zone: str | None = Field(
        default=None, max_length=100, description='an IANA name ("Europe/Paris"); "" clears'
    )


# --- responses ------------------------------------------------------------------------------


class User(BaseModel):
    id: str
    email: str
    display_name: str
    company_id: str
    role: Literal["admin", "member"]
    deactivated: bool = Field(
        default=False, description="an admin deactivated them: no login; their name stays"
    )
    deleted: bool = Field(
        default=False,
        description='their account was deleted: shown as "former member", no login ever',
    )
    status_text: str | None = None
    status_emoji: str | None = None
    time_zone: str | None = Field(default=None, description="an IANA time zone name")
    avatar_url: str | None = Field(
        default=None,
        description="their avatar (a PNG thumbnail), readable by people of their company "
        "with a bearer token; a new upload has a new URL; null when none",
    )
    dnd_until: datetime | None = Field(
        default=None,
        description='when their "do not disturb" ends, while it is still to come (set with '
        "PATCH me/notifications); null when off, already past, or the account is deleted. "
        "A change is announced as `user.updated`; its end is not: clients stop showing it "
        "at that time",
    )


class Session(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds until the access token expires")
    refresh_token: str = Field(
        description="for POST /auth/refresh; each use answers the next one, and a spent one "
        "used again ends the session"
    )
    refresh_expires_in: int = Field(
        description="seconds the refresh token stays good if unused (each refresh renews it)"
    )
    user: User


class SessionInfo(BaseModel):
    """One login of the caller's, as the sessions list shows it."""

    id: str
    device: str = Field(description="the User-Agent it logged in with")
    address: str = Field(description="the client address it last refreshed from")
    created_at: datetime
    last_seen_at: datetime = Field(description="when it logged in or last refreshed")
    current: bool = Field(description="the session of the token asking")


class Sessions(BaseModel):
    sessions: list[SessionInfo]


class Invite(BaseModel):
    code: str
    expires_at: datetime
    max_uses: int | None = Field(description="null: any number of people")
    uses: int = Field(description="people who joined with it so far")
    created_at: datetime
    created_by: str


class PasswordResetLink(BaseModel):
    expires_at: datetime
    emailed: bool = Field(description="mailed to the person (SMTP is configured)")
    url: str | None = Field(
        description="the link to pass on to the person; only when it was not mailed"
    )


class Invites(BaseModel):
    invites: list[Invite]


class Person(User):
    presence: Literal["online", "away", "offline"] = Field(
        default="offline",
        description="`away`: connected, but every socket of theirs says they are idle",
    )


class People(BaseModel):
    users: list[Person]


class Member(BaseModel):
    user_id: str
    display_name: str
    role: Literal["owner", "member"]
    joined_at: datetime
    last_read_seq: int | None = Field(
        default=None,
        description='how far they have read ("seen by"), in direct conversations and '
        "groups; null in channels",
    )


class Attachment(BaseModel):
    id: str
    filename: str
    content_type: str
    size: int
    width: int | None
    height: int | None
    url: str | None = None
    thumbnail_url: str | None = None


class ReactionCount(BaseModel):
    emoji: str
    count: int
    me: bool


class Message(BaseModel):
    id: str
    conversation_id: str
    seq: int
    sender_id: str | None
    body: str = Field(description="the text as written, Markdown marks included")
    body_html: str = Field(
        description="`body` rendered by the server as safe HTML: the Markdown subset of "
        "docs/api.md (bold, italic, strike, code, code blocks, quotes, lists, http(s) and "
        "mailto links, bare addresses linked), raw HTML shown as text; only the tags p, br, "
        "strong, em, s, code, pre, blockquote, ul, ol, li and a (href, rel, target). A "
        'client may insert it as HTML. "" for a deleted message'
    )
    client_msg_id: str | None
    thread_root_id: str | None
    created_at: datetime
    edited_at: datetime | None
    deleted_at: datetime | None
    deleted_by: str | None = Field(
        description="who deleted it; null while it is not deleted, or when no one did"
    )
    attachments: list[Attachment]
    reactions: list[ReactionCount]
    mentions: list[str] = Field(
        default_factory=list,
        description="ids of the members it mentions by name (never the sender), resolved "
        "when it was sent or last edited",
    )
    mention_kind: Literal["channel", "here"] | None = Field(
        default=None, description="`@channel` or `@here`: it mentions everyone"
    )
    reply_count: int = Field(
        default=0, description="a thread root's replies that are not deleted; 0 for others"
    )
    last_reply_at: datetime | None = Field(
        default=None, description="when the newest of those replies was sent"
    )
    reply_user_ids: list[str] = Field(
        default_factory=list,
        description="up to 5 distinct people who sent those replies, newest first",
    )


class Conversation(BaseModel):
    id: str
    kind: Literal["direct", "group", "channel"]
    title: str | None
    created_by: str | None
    created_at: datetime
    last_seq: int = Field(description="seq of the newest event in the conversation's log")
    last_activity_at: datetime
    last_read_seq: int = Field(description="how far the caller has read")
    topic: str | None = Field(default=None, description="a channel's topic")
    archived_at: datetime | None = Field(
        default=None, description="set while the channel is archived (read-only)"
    )
    members: list[Member]


NotifyLevel = Literal["all", "mentions", "nothing"]


class ConversationListItem(Conversation):
    unread_count: int
    mention_count: int = Field(
        description="messages after the read marker that mention the caller by name or "
        "`@channel`, not deleted"
    )
    notify_level: NotifyLevel | None = Field(
        description="the caller's level for this conversation; null: their default"
    )
    muted: bool = Field(description="no badge nor notification; unread is still counted")
    last_message: Message | None


class ConversationList(BaseModel):
    conversations: list[ConversationListItem]
    next_cursor: str | None
    has_more: bool


class Channel(BaseModel):
    id: str
    kind: Literal["channel"]
    title: str | None
    created_by: str | None
    created_at: datetime
    last_seq: int
    last_activity_at: datetime
    topic: str | None = None
    archived_at: datetime | None = None
    member_count: int
    joined: bool


class Channels(BaseModel):
    channels: list[Channel]


class MessagePage(BaseModel):
    messages: list[Message] = Field(description="oldest first")
    next_cursor: str | None = Field(description="pass as `before` for the previous window")
    has_more: bool
    last_seq: int = Field(
        description="the conversation's newest seq when this window was read: subscribe "
        "with after_seq=last_seq to miss nothing and repeat nothing"
    )


class MessageEdit(BaseModel):
    old_body: str
    edited_by: str | None
    edited_at: datetime


class MessageEdits(BaseModel):
    edits: list[MessageEdit] = Field(description="earlier bodies, oldest first")


class Thread(BaseModel):
    root: Message
    replies: list[Message]
    next_cursor: str | None
    has_more: bool


class ThreadWindow(BaseModel):
    root: Message
    messages: list[Message] = Field(description="the root's replies, oldest first")
    next_cursor: str | None = Field(description="pass as `before` for the previous window")
    has_more: bool
    last_seq: int = Field(
        description="the conversation's newest seq when this window was read: follow its "
        "events after it"
    )


class FollowedThread(BaseModel):
    root: Message
    conversation_id: str
    unread_reply_count: int = Field(
        description="replies by others after `last_read_seq` that are not deleted"
    )
    last_read_seq: int = Field(description="the seq of the newest reply the caller has read")


class FollowedThreads(BaseModel):
    threads: list[FollowedThread] = Field(description="newest activity first")
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")
    has_more: bool


class ThreadFollowing(BaseModel):
    root_id: str
    following: bool


class ThreadRead(BaseModel):
    root_id: str
    last_read_seq: int
    following: bool


class EventOut(BaseModel):
    conversation_id: str
    seq: int
    kind: str
    data: dict[str, Any] = Field(
        description="by kind (docs/realtime.md); the earlier events of a deleted message "
        "carry a tombstone instead (docs/api.md, Deleted messages)"
    )
    created_at: datetime


class EventPage(BaseModel):
    events: list[EventOut]
    last_seq: int = Field(description="the conversation's newest seq now")
    has_more: bool


class SearchResult(BaseModel):
    message: Message
    highlight: list[tuple[int, int]] = Field(
        description="the matched words of `message.body` as [start, end) offsets in Unicode "
        "code points (in JavaScript, index `Array.from(body)`), in order, never overlapping"
    )


class SearchPage(BaseModel):
    results: list[SearchResult] = Field(description="newest first")
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")
    has_more: bool


class ReadMarker(BaseModel):
    conversation_id: str
    last_read_seq: int


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any]
    request_id: str = Field(description="this request's id, as its `X-Request-Id` header says")


class ErrorBody(BaseModel):
    error: ErrorDetail


# --- exports (docs/exports.md) --------------------------------------------------------------


class ExportRequest(Request):
    scope: Literal["company", "conversation"] = Field(
        description="the caller's whole company, or one of its conversations"
    )
    conversation_id: str | None = Field(
        default=None, max_length=36, description="with scope `conversation`: which one"
    )
    since: date | None = Field(
        default=None, description="only messages from this day (UTC) on; unset: all"
    )


class OwnExportRequest(Request):
    since: date | None = Field(
        default=None, description="only messages from this day (UTC) on; unset: all"
    )


class Export(BaseModel):
    id: str
    scope: Literal["company", "conversation", "person"]
    conversation_id: str | None
    since: date | None
    state: Literal["queued", "running", "done", "failed"]
    messages_written: int = Field(description="messages in the archive so far")
    messages_total: int | None = Field(
        description="messages the export covers; unknown until it runs"
    )
    size: int | None = Field(description="the archive's bytes, once done")
    error: str | None = Field(description="why it failed")
    created_at: datetime
    finished_at: datetime | None
    download_url: str | None = Field(
        description="once done: a signed link to the zip, fresh on every look"
    )
    download_expires_at: datetime | None


class NotificationSettings(BaseModel):
    level: NotifyLevel = Field(
        description="`all` messages, `mentions` (mentions and direct messages), or `nothing`"
    )
    dnd_until: datetime | None = Field(description='"do not disturb" until then; null: off')


class NotificationSettingsChange(Request):
    level: NotifyLevel | None = Field(default=None, description="absent: unchanged")
    dnd_until: datetime | None = Field(
        default=None,
        description="with a time zone, at most 366 days ahead; null (or a time already "
        "past) turns it off; absent: unchanged",
    )


class ConversationNotifications(BaseModel):
    conversation_id: str
    notify_level: NotifyLevel | None = Field(description="null: the caller's default level")
    muted: bool


class ConversationNotificationsChange(Request):
    notify_level: NotifyLevel | None = Field(
        default=None, description="null: the caller's default level; absent: unchanged"
    )
    muted: StrictBool | None = Field(default=None, description="absent: unchanged")


class MentionItem(BaseModel):
    conversation_id: str
    message: Message


class MentionList(BaseModel):
    mentions: list[MentionItem] = Field(description="newest first")
    next_cursor: str | None = Field(description="pass as `before` for older mentions")
    has_more: bool
