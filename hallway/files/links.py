"""Signed, expiring download links.

A link names one stored object (an attachment's file or its thumbnail, or an export's
archive), the scope it was
issued for (the attachment's conversation: every member may hold the same link, so a message
event is signed once for all its subscribers) and an expiry, under an HMAC of all three.
Changing any part of a link, or using it late, makes it worthless.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlencode

from hallway.config import Settings

Variant = Literal["file", "thumbnail"]
Signed = Variant | Literal["export", "avatar"]
"""What a link opens; signed with it, so that no link opens another kind of object."""

# The download routes (hallway/api/routes/files.py, hallway/api/routes/exports.py).
DOWNLOAD_PATH = "/api/v1/files/{attachment_id}/{variant}"
EXPORT_DOWNLOAD_PATH = "/api/v1/exports/{export_id}/download"
AVATAR_PATH = "/api/v1/avatars/{user_id}/{version}"


class LinkCheck(enum.Enum):
    VALID = "valid"
    EXPIRED = "expired"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class FileLinks:
    key: bytes
    ttl_seconds: int

    @classmethod
    def from_settings(cls, settings: Settings) -> FileLinks:
        # A key of its own, derived from the secret: a link signature is never a token one.
        key = hmac.digest(settings.effective_secret_key.encode(), b"hallway file links", "sha256")
        return cls(key=key, ttl_seconds=settings.file_link_ttl_seconds)

    def expiry(self, now: float) -> int:
        """Links made within the same quarter of the TTL share their expiry, and so their URL,
        which lets browsers cache the file; none lives longer than the TTL."""
        step = max(1, self.ttl_seconds // 4)
        return int(now) // step * step + self.ttl_seconds

    def url(self, variant: Variant, attachment_id: str, scope: str, now: float) -> str:
        path = DOWNLOAD_PATH.format(attachment_id=attachment_id, variant=variant)
        return self._url(path, variant, attachment_id, scope, now)

    def export_url(self, export_id: str, scope: str, now: float) -> tuple[str, int]:
        """A link to an export's archive (`scope`: its company), and when it expires."""
        path = EXPORT_DOWNLOAD_PATH.format(export_id=export_id)
        return self._url(path, "export", export_id, scope, now), self.expiry(now)

    def avatar_url(self, user_id: str, version: int, company_id: str, now: float) -> str:
        """A link to a person's avatar (`version`: its upload), for the people of their
        company (`scope`); a new upload has a new link."""
        path = AVATAR_PATH.format(user_id=user_id, version=version)
        return self._url(path, "avatar", avatar_object_id(user_id, version), company_id, now)

    def _url(self, path: str, kind: Signed, object_id: str, scope: str, now: float) -> str:
        expires = self.expiry(now)
        query = urlencode(
            {
                "scope": scope,
                "expires": expires,
                "signature": self._sign(kind, object_id, scope, expires),
            }
        )
        return f"{path}?{query}"

    def check(
        self,
        kind: Signed,
        object_id: str,
        scope: str,
        expires: int,
        signature: str,
        now: float,
    ) -> LinkCheck:
        expected = self._sign(kind, object_id, scope, expires)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            return LinkCheck.INVALID
        if now >= expires:
            return LinkCheck.EXPIRED
        return LinkCheck.VALID

    def _sign(self, kind: Signed, object_id: str, scope: str, expires: int) -> str:
        message = f"{kind}\n{object_id}\n{scope}\n{expires}".encode()
        digest = hmac.digest(self.key, message, hashlib.sha256)
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def avatar_object_id(user_id: str, version: int) -> str:
    """What an avatar link signs: the person and the version of their avatar."""
    return f"{user_id}.{version}"
