"""Accounts and sessions: signup, login, join with an invite, refresh, logout, who am I,
my sessions, my password; invites (create, list, revoke)."""

from __future__ import annotations

from fastapi import APIRouter, status

from hallway.api.deps import Client, Ctx, CurrentActor
from hallway.api.routes import API_PREFIX, ERRORS, RATE_LIMITED
from hallway.api.schemas import (
    Invite,
    InviteRequest,
    Invites,
    JoinRequest,
    LoginRequest,
    PasswordChangeRequest,
    PasswordResetRequest,
    RefreshRequest,
    Session,
    SessionInfo,
    Sessions,
    SignupRequest,
    User,
)
from hallway.domain import accounts, invites, password_change, password_reset, sessions

router = APIRouter(prefix=API_PREFIX, tags=["auth"], responses=ERRORS)


def _session(tokens: sessions.Tokens) -> Session:
    return Session.model_validate(
        {
            "access_token": tokens.access_token,
            "expires_in": tokens.expires_in,
            "refresh_token": tokens.refresh_token,
            "refresh_expires_in": tokens.refresh_expires_in,
            "user": tokens.user,
        }
    )


@router.post(
    "/auth/signup",
    status_code=status.HTTP_201_CREATED,
    response_model=Session,
    responses=RATE_LIMITED,
)
async def signup(body: SignupRequest, ctx: Ctx, client: Client) -> Session:
    """Create a company with the caller as its first admin, and log in. Limited per client
    address (`HALLWAY_SIGNUPS_PER_ADDRESS`)."""
    return _session(await accounts.signup(ctx, client, **body.model_dump()))


@router.post("/auth/login", response_model=Session, responses=RATE_LIMITED)
async def login(body: LoginRequest, ctx: Ctx, client: Client) -> Session:
    """Exchange email and password for a new session: an access token and a refresh token.
    Wrong passwords are limited per account and per client address: past the limit every
    attempt answers 429, whether or not the account exists, with a wait that grows."""
    return _session(await accounts.login(ctx, client, email=body.email, password=body.password))


@router.post(
    "/auth/join",
    status_code=status.HTTP_201_CREATED,
    response_model=Session,
    responses=RATE_LIMITED,
)
async def join(body: JoinRequest, ctx: Ctx, client: Client) -> Session:
    """Join the company of an invite code as a member, and log in. Limited per client
    address (`HALLWAY_JOINS_PER_ADDRESS`)."""
    return _session(await accounts.join(ctx, client, **body.model_dump()))


@router.post("/auth/refresh", response_model=Session)
async def refresh(body: RefreshRequest, ctx: Ctx, client: Client) -> Session:
    """A fresh access token and the next refresh token for the session; the refresh token
    given is spent. Using a spent one again ends the session (401 `session_revoked`): two
    holders of one session means it was copied."""
    return _session(await sessions.refresh(ctx, body.refresh_token, client))


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(ctx: Ctx, actor: CurrentActor) -> None:
    """End this session: its tokens stop working and its sockets close, on every node."""
    await sessions.log_out(ctx, actor)


@router.get("/sessions", response_model=Sessions)
async def list_sessions(ctx: Ctx, actor: CurrentActor) -> Sessions:
    """The caller's standing sessions, the most recently seen first."""
    found = await sessions.list_sessions(ctx, actor)
    return Sessions(sessions=[SessionInfo.model_validate(s) for s in found])


@router.delete("/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def end_session(session_id: str, ctx: Ctx, actor: CurrentActor) -> None:
    """End one of the caller's sessions (another person's answers 404)."""
    await sessions.end_session(ctx, actor, session_id)


@router.delete("/sessions", status_code=status.HTTP_204_NO_CONTENT)
async def end_all_sessions(ctx: Ctx, actor: CurrentActor) -> None:
    """Log out everywhere: every session of the caller, this one included."""
    await sessions.end_all_sessions(ctx, actor)


@router.post("/auth/password-reset", status_code=status.HTTP_204_NO_CONTENT)
async def reset_password(body: PasswordResetRequest, ctx: Ctx) -> None:
    """Choose a new password with the one-time link an admin issued (`token` is the part
    after `#/reset/`); every session of the person ends."""
    await password_reset.reset_password(ctx, body.token, body.new_password)


@router.get("/me", response_model=User)
async def me(ctx: Ctx, actor: CurrentActor) -> User:
    """The caller's own account."""
    return User.model_validate(await accounts.get_me(ctx, actor))


@router.post(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={409: {"description": "the account has no password (identity provider)"}},
)
async def change_password(body: PasswordChangeRequest, ctx: Ctx, actor: CurrentActor) -> None:
    """Change the caller's password (needs the current one); every other session ends."""
    await password_change.change_password(
        ctx, actor, current_password=body.current_password, new_password=body.new_password
    )


@router.post("/invites", status_code=status.HTTP_201_CREATED, response_model=Invite)
async def create_invite(body: InviteRequest, ctx: Ctx, actor: CurrentActor) -> Invite:
    """An invite code for the caller's company (admins only): good until it expires, for
    `max_uses` people (unset: any number), unless revoked."""
    return Invite.model_validate(
        await invites.create_invite(ctx, actor, max_uses=body.max_uses, expires_in=body.expires_in)
    )


@router.get("/invites", response_model=Invites)
async def list_invites(ctx: Ctx, actor: CurrentActor) -> Invites:
    """The company's invites that can still be used (admins only), the newest first."""
    found = await invites.list_invites(ctx, actor)
    return Invites(invites=[Invite.model_validate(i) for i in found])


@router.delete("/invites/{code}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_invite(code: str, ctx: Ctx, actor: CurrentActor) -> None:
    """Nobody joins with this code from now on (admins only); who joined stays."""
    await invites.revoke_invite(ctx, actor, code)
