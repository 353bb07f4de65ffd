"""A person as the API shows them."""

from __future__ import annotations

import time
from typing import Any

from hallway.files.links import FileLinks
from hallway.store.types import AnyRow


def user_dict(row: AnyRow, links: FileLinks) -> dict[str, Any]:
    """A users row as the API shows it; `deactivated` people keep their name on what they
    wrote, marked; `deleted` ones are "former member" (account_deletion.py), with no profile.
    `avatar_url` is a signed link for the people of their company (profiles.py)."""
    deleted = row.deleted_at is not None
    avatar_url = (
        links.avatar_url(row.id, int(row.avatar_version), row.company_id, time.time())
        if row.avatar_key is not None and not deleted
        else None
    )
    return {
        "id": row.id,
        "email": row.email,
        "display_name": row.display_name,
        "company_id": row.company_id,
        "role": row.role,
        "deactivated": row.deactivated_at is not None,
        "deleted": deleted,
        "status_text": None if deleted else row.status_text,
        "status_emoji": None if deleted else row.status_emoji,
        "time_zone": None if deleted else row.time_zone,
        "avatar_url": avatar_url,
    }
