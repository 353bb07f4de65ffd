"""A person as the API shows them."""

from __future__ import annotations

from typing import Any

from hallway.store.types import AnyRow


def user_dict(row: AnyRow) -> dict[str, Any]:
    """A users row as the API shows it; `deactivated` people keep their name on what they
    wrote, marked; `deleted` ones are "former member" (account_deletion.py)."""
    return {
        "id": row.id,
        "email": row.email,
        "display_name": row.display_name,
        "company_id": row.company_id,
        "role": row.role,
        "deactivated": row.deactivated_at is not None,
        "deleted": row.deleted_at is not None,
    }
