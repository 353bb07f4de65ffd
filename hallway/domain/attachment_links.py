"""Fresh signed links on attachment metadata, wherever a reader is handed a message.

The event log and message rows keep attachment metadata without links (links expire);
these functions add `url` and `thumbnail_url` at the moment a message or event goes out.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from hallway.domain.context import Event
from hallway.files.images import THUMBNAILED_TYPES
from hallway.files.links import FileLinks


def attachment_with_links(
    links: FileLinks, conversation_id: str, attachment: dict[str, Any]
) -> dict[str, Any]:
    now = time.time()
    has_thumbnail = attachment["content_type"] in THUMBNAILED_TYPES
    return {
        **attachment,
        "url": links.url("file", attachment["id"], conversation_id, now),
        "thumbnail_url": (
            links.url("thumbnail", attachment["id"], conversation_id, now)
            if has_thumbnail
            else None
        ),
    }


def message_with_links(links: FileLinks, message: dict[str, Any]) -> dict[str, Any]:
    """A message (or an event's data shaped like one) with links on its attachments."""
    files = message.get("attachments")
    if not files:
        return message
    conversation_id = message["conversation_id"]
    return {
        **message,
        "attachments": [attachment_with_links(links, conversation_id, a) for a in files],
    }


def event_with_links(links: FileLinks, event: Event) -> Event:
    """The event as a subscriber should see it: `message.created` data gets fresh links.
    Call this for every event frame, live or replayed, just before it is serialised."""
    if not event.data.get("attachments"):
        return event
    data = message_with_links(links, {**event.data, "conversation_id": event.conversation_id})
    return dataclasses.replace(event, data=data)
