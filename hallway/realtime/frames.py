"""Server-to-client frames, serialised once (orjson) and shared by every recipient."""

from __future__ import annotations

from typing import Any

import orjson

from hallway.domain.attachment_links import event_with_links
from hallway.domain.context import Event
from hallway.domain.errors import DomainError, RateLimited
from hallway.files.links import FileLinks

# Close codes a client must understand (docs/realtime.md).
CLOSE_PROTOCOL_ERROR = 4000
CLOSE_IDLE = 4001
CLOSE_SLOW_CONSUMER = 4008
CLOSE_UNAUTHENTICATED = 4401
CLOSE_TOO_MANY_CONNECTIONS = 4429
# (1012 "service restart" is sent by uvicorn itself when the server shuts down.)


def dumps(frame: dict[str, Any]) -> str:
    return orjson.dumps(frame, option=orjson.OPT_UTC_Z).decode()


def event_frame(event: Event, links: FileLinks) -> str:
    """An event as subscribers get it, with fresh signed links on any attachments (signed
    for the conversation, so one frame serves every subscriber)."""
    event = event_with_links(links, event)
    return dumps(
        {
            "type": "event",
            "conversation_id": event.conversation_id,
            "seq": event.seq,
            "kind": event.kind,
            "data": event.data,
            "created_at": event.created_at,
        }
    )


def inbox_frame(kind: str, conversation_id: str, **fields: Any) -> str:
    return dumps({"type": "inbox", "kind": kind, "conversation_id": conversation_id, **fields})


def error_frame(code: str, message: str, **fields: Any) -> str:
    return dumps({"type": "error", "code": code, "message": message, **fields})


def domain_error_frame(exc: DomainError, **fields: Any) -> str:
    """A refusal by the domain, with the HTTP API's code and details; a rate limit's carries
    `retry_after` too, as HTTP's Retry-After header."""
    if isinstance(exc, RateLimited):
        fields["retry_after"] = exc.retry_after
    return error_frame(exc.code, exc.message, details=exc.details, **fields)
