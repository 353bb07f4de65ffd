"""One Settings object; every field also comes from the environment as HALLWAY_<NAME>."""

from __future__ import annotations

import secrets
from functools import cached_property
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Literal

from limits import parse_many
from pydantic import Field, IPvAnyNetwork, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_LENGTH = 32


def _loopback() -> list[IPv4Network | IPv6Network]:
    return [IPv4Network("127.0.0.1/32"), IPv6Network("::1/128")]


class ConfigError(RuntimeError):
    """The settings cannot run a server (raised at startup, never mid-request)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HALLWAY_", extra="ignore")

    mode: Literal["dev", "production"] = "dev"
    data_dir: Path = Path("./data")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; unset = SQLite file in the data dir"
    )
    migration_database_url: str | None = Field(
        default=None,
        description="PostgreSQL: the tables' owner, who migrates (and backs up), when "
        "database_url is an app role that row-level security holds; unset = database_url",
    )
    redis_url: str | None = Field(default=None, description="unset = in-memory broker")
    secret_key: str | None = Field(
        default=None, description="signs tokens and file links; dev mode generates one"
    )
    # Access tokens are short-lived; a session's refresh token (rotated on every use) keeps
    # a tab signed in for as long as it is used at least once per refresh_token_ttl_seconds.
    access_token_ttl_seconds: int = Field(default=15 * 60, ge=60)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=300)
    invite_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    password_reset_ttl_seconds: int = Field(default=15 * 60, ge=60)
    # How long the link that finishes a sign-up or a join stays good.
    signup_confirmation_ttl_seconds: int = Field(default=24 * 3600, ge=300)
    # Where people reach the web client, for links in mail (a password reset, finishing a
    # sign-up); unset: the address the request came to.
    public_url: str | None = None

    # Mail: sign-up confirmations and password-reset links. Unset host: mail is written to
    # the outbox folder (and the log) instead of being sent, and an admin is shown a reset
    # link to pass on.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    smtp_from: str = "Hallway <hallway@localhost>"
    mail_outbox_dir: Path | None = Field(
        default=None, description="where mail goes without SMTP; unset = the data dir's outbox"
    )
    password_hash_time_cost: int = Field(default=3, ge=1)
    password_hash_memory_kib: int = Field(default=65536, ge=64)

    # Trust of an external identity provider's JWTs: `sub` maps to users.external_id.
    external_jwt_secret: str | None = None
    external_jwt_public_key: str | None = None
    external_jwt_algorithms: list[str] = ["HS256", "RS256", "ES256"]
    external_jwt_audience: str | None = None
    external_jwt_issuer: str | None = None

    max_body_chars: int = Field(default=10_000, ge=1)
    max_title_chars: int = Field(default=200, ge=1)
    max_group_members: int = Field(default=500, ge=2)
    # Any request body but an upload's; a 10,000-character message, escaped, is about 60 KB.
    max_request_bytes: int = Field(default=256 * 1024, ge=1024)
    # PostgreSQL connections kept open per process; as many more open for bursts. Below the
    # number of concurrent requests a burst opens connections anew, which costs more than
    # the requests themselves, so keep it near the concurrency a process serves. The
    # statements that commit by themselves (sends, history windows) take theirs from the
    # same pool (hallway/store/database.py).
    db_pool_size: int = Field(default=8, ge=1)

    # One log line per HTTP request (uvicorn's access log). Off by default: formatting and
    # writing a line is a large share of a small request's work, done on the event loop
    # every request shares, and behind a load balancer that logs requests the line is
    # written twice.
    access_log: bool = False
    log_format: Literal["text", "json"] = "text"
    # Prometheus metrics at /metrics (docs/operations.md, "Metrics"), answered only to
    # `Authorization: Bearer <this token>`; unset, /metrics answers 404.
    metrics_token: str | None = Field(
        default=None, min_length=16, description="the bearer token of /metrics; unset = no /metrics"
    )

    # Caps on reactions: how many different emoji one message may carry, and how many of
    # them one person may put on it (a message with 300 reactions buries the thread).
    max_reaction_emoji_per_message: int = Field(default=50, ge=1)
    max_reactions_per_person_per_message: int = Field(default=20, ge=1)

    # Rate limits (docs/security.md, "Limits"). Each is one or more windows in the `limits`
    # library's notation, "N per [M] second|minute|hour|day", separated by ";": every window
    # is checked, so longer ones make the waits grow. The defaults are far above what a
    # person in an office does; they stop scripts and guessing. With HALLWAY_REDIS_URL the
    # counters are kept in Redis, shared by every node.
    rate_limiting: bool = Field(default=True, description="false: no rate limit at all")
    rate_limit_key_prefix: str = Field(
        default="hallway:limits", min_length=1, description="prefix of the counters in Redis"
    )
    login_failures_per_account: str = "5 per 15 minutes; 10 per hour; 20 per day"
    login_failures_per_address: str = "30 per 15 minutes; 100 per hour; 300 per day"
    signups_per_address: str = "5 per hour; 20 per day"
    joins_per_address: str = "100 per hour; 500 per day"
    sends_per_person: str = "30 per 10 seconds"
    uploads_per_person: str = "60 per minute"
    searches_per_person: str = "60 per minute"
    edits_per_person: str = "30 per minute"
    ws_frames_per_connection: str = "200 per 10 seconds"
    # Open sockets of one person on one process (a cap, not a rate: counted by the hub, and
    # kept even with rate_limiting off).
    ws_connections_per_person: int = Field(default=50, ge=1)

    # The HTTP edge of `hallway serve` (hallway/api/http_edge.py; docs/deploy.md, "Exposed
    # directly or behind a proxy"). A request line and headers longer than this answer 431;
    # the largest a browser sends, cookies of other sites on the domain included, is well
    # under it.
    max_request_head_bytes: int = Field(default=32 * 1024, ge=1024, le=1024 * 1024)
    # A client that has not sent a whole request line and headers this long after
    # connecting, or after a later request's first byte, is disconnected.
    request_head_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    # An idle keep-alive connection between two requests is closed after this (uvicorn's
    # timeout_keep_alive). Behind a proxy that reuses connections, make it longer than the
    # proxy's own idle timeout, or the proxy may send a request on a closing connection.
    keep_alive_timeout_seconds: int = Field(default=5, ge=1, le=3600)
    # Open connections (HTTP and WebSocket) from one client address on one process; the
    # next is answered 429 `too_many_connections`. An office behind one NAT address shares
    # it: a browser holds about six HTTP connections and a socket per tab. 0: no cap.
    max_connections_per_address: int = Field(default=1000, ge=0)
    # Addresses never refused by that cap: a proxy in front carries many people's
    # connections (a JSON list of addresses or networks).
    connection_cap_exempt: list[IPvAnyNetwork] = Field(default_factory=_loopback)

    # Realtime
    ws_send_buffer_bytes: int = Field(default=1_048_576, ge=16_384)
    ws_heartbeat_seconds: float = Field(default=20.0, gt=0)
    ws_idle_timeout_seconds: float = Field(default=60.0, gt=0)
    ws_replay_limit: int = Field(default=1000, ge=1)
    # permessage-deflate without context takeover: one compressed frame serves every
    # subscriber, so a delivery costs no more than an uncompressed one while event frames
    # still go out much smaller.
    ws_compression: bool = True
    typing_ttl_seconds: float = Field(default=6.0, gt=0)
    presence_ttl_seconds: float = Field(default=60.0, gt=0)

    # Files
    storage: Literal["local", "s3"] = "local"
    s3_endpoint_url: str | None = None
    s3_bucket: str = "hallway"
    s3_region: str = "us-east-1"
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_addressing_style: Literal["path", "virtual", "auto"] = "path"
    max_upload_bytes: int = Field(default=25 * 1024 * 1024, ge=1)
    max_files_per_message: int = Field(default=10, ge=1)
    allowed_content_types: list[str] = []
    blocked_content_types: list[str] = [
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "application/x-msdownload",
    ]
    file_link_ttl_seconds: int = Field(default=15 * 60, ge=10)
    orphan_attachment_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    thumbnail_max_px: int = Field(default=320, ge=16)
    max_image_pixels: int = Field(default=40_000_000, ge=1)
    attachment_sweep_interval_seconds: float = Field(
        default=300.0, gt=0, description="how often unsent and deleted files are removed"
    )
    retention_interval_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="how often the server applies retention policies; 0: never by itself "
        "(`hallway retention run` still does)",
    )

    @field_validator("database_url", "migration_database_url")
    @classmethod
    def _normalise_database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        for prefix in ("postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+asyncpg://" + value[len(prefix) :]
        return value

    @field_validator(
        "login_failures_per_account",
        "login_failures_per_address",
        "signups_per_address",
        "joins_per_address",
        "sends_per_person",
        "uploads_per_person",
        "searches_per_person",
        "edits_per_person",
        "ws_frames_per_connection",
    )
    @classmethod
    def _check_rate(cls, value: str) -> str:
        windows = parse_many(value)  # ValueError names the string it cannot read
        if any(window.amount < 1 for window in windows):
            raise ValueError(f"{value!r}: every window must allow at least 1")
        return value

    @property
    def effective_mail_outbox_dir(self) -> Path:
        return self.mail_outbox_dir or self.data_dir / "outbox"

    @cached_property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'hallway.db').resolve()}"

    @property
    def effective_migration_database_url(self) -> str:
        """Whom migrations, backups and the command line's work connect as: the owner."""
        return self.migration_database_url or self.effective_database_url

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @cached_property
    def effective_secret_key(self) -> str:
        """The signing secret; in dev mode one is generated once and kept in the data dir."""
        if self.secret_key:
            if self.mode == "production" and len(self.secret_key) < MIN_SECRET_LENGTH:
                raise ConfigError(
                    f"HALLWAY_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters"
                )
            return self.secret_key
        if self.mode == "production":
            raise ConfigError("HALLWAY_SECRET_KEY is required in production mode")
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key

    def check(self) -> None:
        """Fail at startup, not on the first request, when the settings cannot serve."""
        _ = self.effective_secret_key
        # No endpoint means AWS itself; no keys means boto3's own credential chain.
        if self.storage == "s3" and bool(self.s3_access_key) != bool(self.s3_secret_key):
            raise ConfigError(
                "set both HALLWAY_S3_ACCESS_KEY and HALLWAY_S3_SECRET_KEY, or neither"
            )
