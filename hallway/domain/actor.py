"""Who is acting: every domain call takes one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hallway.store.acting import Acting

Role = Literal["admin", "member"]


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: str
    company_id: str
    role: Role
    # The login this actor acts through (None for an external identity provider's token).
    session_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def acting(self) -> Acting:
        """The actor as row-level security sees them (hallway.store.acting)."""
        return Acting(self.user_id, self.company_id)
