"""Access tokens: our own signed JWTs, and optionally an external identity provider's."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from sqlalchemy import select

from hallway.config import Settings
from hallway.domain.actor import Actor
from hallway.domain.context import DomainContext
from hallway.domain.errors import Unauthenticated
from hallway.store.tables import users
from hallway.store.types import utcnow

ISSUER = "hallway"
ALGORITHM = "HS256"


def issue_access_token(settings: Settings, actor: Actor) -> tuple[str, int]:
    """A short-lived token of the actor's session. Only who and which session are in it:
    the role, the company and whether the session stands are read from the database
    (SessionStates), so a change takes effect at once, not when the token expires."""
    assert actor.session_id is not None, "our tokens always name their session"
    now = utcnow()
    ttl = settings.access_token_ttl_seconds
    claims = {
        "iss": ISSUER,
        "typ": "access",
        "sub": actor.user_id,
        "sid": actor.session_id,
        "iat": now,
        "exp": now + timedelta(seconds=ttl),
    }
    return jwt.encode(claims, settings.effective_secret_key, algorithm=ALGORITHM), ttl


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """Who a token speaks for, and until when (Unix time)."""

    actor: Actor
    expires_at: float


@dataclass(frozen=True, slots=True)
class _OwnClaims:
    user_id: str
    session_id: str
    expires_at: float


# Verified tokens, so a client's every request doesn't pay for HMAC and claim checks again.
# Keyed by the secret too: a token is only ever trusted under the key that verified it.
_verified: dict[tuple[str, str], _OwnClaims] = {}
_VERIFIED_MAX = 10_000


async def _own_token(ctx: DomainContext, token: str) -> VerifiedToken:
    claims = _own_claims(ctx.settings, token)
    state = await ctx.session_states.get(ctx.db, claims.session_id)
    if state is None or state.user_id != claims.user_id:
        raise Unauthenticated("the session has ended; log in again", code="session_revoked")
    actor = Actor(state.user_id, state.company_id, state.role, claims.session_id)
    return VerifiedToken(actor, claims.expires_at)


def _own_claims(settings: Settings, token: str) -> _OwnClaims:
    key = (settings.effective_secret_key, token)
    known = _verified.get(key)
    if known is not None:
        if known.expires_at > time.time():
            return known
        del _verified[key]
        raise Unauthenticated("the access token has expired", code="token_expired")
    verified = _verify_own(settings, token)
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()
    _verified[key] = verified
    return verified


def _verify_own(settings: Settings, token: str) -> _OwnClaims:
    try:
        claims = jwt.decode(
            token,
            settings.effective_secret_key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "sub", "sid", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthenticated("the access token has expired", code="token_expired") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthenticated("the access token is not valid", code="invalid_token") from exc
    if claims.get("typ") != "access":
        raise Unauthenticated("the access token is not valid", code="invalid_token")
    return _OwnClaims(str(claims["sub"]), str(claims["sid"]), float(claims["exp"]))


def _external_key(settings: Settings) -> tuple[str, list[str]]:
    """The provider's key and the configured algorithms that suit it. A public key never
    verifies HS* (that would let anyone who knows the public key sign tokens), and a shared
    secret verifies only HS*."""
    if settings.external_jwt_public_key:
        key = settings.external_jwt_public_key
        algorithms = [a for a in settings.external_jwt_algorithms if not a.startswith("HS")]
    else:
        assert settings.external_jwt_secret is not None
        key = settings.external_jwt_secret
        algorithms = [a for a in settings.external_jwt_algorithms if a.startswith("HS")]
    return key, algorithms


def _external_claims(settings: Settings, token: str) -> dict[str, Any]:
    key, algorithms = _external_key(settings)
    options: Any = {"require": ["exp", "sub"]}
    if settings.external_jwt_audience is None:
        options["verify_aud"] = False
    try:
        return jwt.decode(
            token,
            key,
            algorithms=algorithms,
            audience=settings.external_jwt_audience,
            issuer=settings.external_jwt_issuer,
            options=options,
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthenticated("the access token has expired", code="token_expired") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthenticated("the access token is not valid", code="invalid_token") from exc


def _issuer_of(token: str) -> str | None:
    try:
        issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.InvalidTokenError as exc:
        raise Unauthenticated("the access token is not valid", code="invalid_token") from exc
    return issuer if isinstance(issuer, str) else None


def external_provider_enabled(settings: Settings) -> bool:
    return bool(settings.external_jwt_secret or settings.external_jwt_public_key)


async def authenticate(ctx: DomainContext, token: str) -> Actor:
    """The Actor a bearer token speaks for. Our tokens need no database read."""
    return (await verify_token(ctx, token)).actor


async def verify_token(ctx: DomainContext, token: str) -> VerifiedToken:
    """authenticate, with the token's expiry: a socket lives no longer than its token."""
    if not external_provider_enabled(ctx.settings) or _issuer_of(token) == ISSUER:
        return await _own_token(ctx, token)
    claims = _external_claims(ctx.settings, token)
    async with ctx.db.read() as conn:
        row = (
            await conn.execute(
                select(users.c.id, users.c.company_id, users.c.role).where(
                    users.c.external_id == str(claims["sub"]),
                    users.c.deactivated_at.is_(None),
                )
            )
        ).first()
    if row is None:
        raise Unauthenticated(
            "no Hallway account is linked to this identity", code="unknown_identity"
        )
    actor = Actor(user_id=row.id, company_id=row.company_id, role=row.role)
    return VerifiedToken(actor, float(claims["exp"]))
