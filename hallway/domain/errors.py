"""Domain errors. The API layer maps each class to one HTTP status and the JSON error shape."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "error"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details


class NotFound(DomainError):
    """Absent, or present but not visible to the actor: the two are indistinguishable."""

    code = "not_found"


class InvalidInput(DomainError):
    code = "invalid_input"


class Conflict(DomainError):
    code = "conflict"


class Unauthenticated(DomainError):
    code = "unauthenticated"


class Forbidden(DomainError):
    """The actor can see the resource but may not do this to it."""

    code = "forbidden"


class LogTruncated(DomainError):
    """The events asked for are no longer in the log: retention dropped them."""

    code = "resync"


class Unavailable(DomainError):
    """Something the request needs outside Hallway (a mail server) did not do its part."""

    code = "unavailable"


class TooLarge(DomainError):
    """The request carries more than a limit allows (an upload past the size limit)."""

    code = "too_large"


class UnsupportedMediaType(DomainError):
    """The content is of a type that is not accepted here."""

    code = "unsupported_media_type"


class RateLimited(DomainError):
    """Too many of these too quickly: a rate limit, not a rule. `retry_after` is the whole
    seconds (at least 1) until the request would be taken."""

    code = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"too many requests: try again in {retry_after} s", retry_after=retry_after
        )
        self.retry_after = retry_after
