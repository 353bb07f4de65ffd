"""Accounts and sessions: signup and join (finished by a mailed link), login, refresh,
logout, who am I, my sessions, my password, deleting my account; invites (create, list,
revoke)."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from hallway.api.deps import Client, Ctx, CurrentActor
from hallway.api.routes import API_PREFIX, RATE_LIMITED, Responses
from hallway.api.schemas import (
    AccountDeletionRequest,
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
    SignupConfirmation,
    SignupPending,
    SignupRequest,
    User,
)
from hallway.domain import (
    account_deletion,
    accounts,
    invites,
    password_change,
    password_reset,
    sessions,
)
from hallway.domain import signup as signup_flow

router = APIRouter(prefix=API_PREFIX, tags=["auth"])


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


_PENDING: Responses = {
    **RATE_LIMITED,
    503: {"description": "`mail_failed`: the mail could not be sent; nothing was kept"},
}


@router.post(
    "/auth/signup",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SignupPending,
    responses=_PENDING,
)
async def signup(body: SignupRequest, request: Request, ctx: Ctx, client: Client) -> SignupPending:
    """Ask for a new company with the caller as its first admin. A link is mailed to the
    address; `POST /auth/confirm` with its token creates the company and logs in. The
    answer is the same whether or not the address has an account (then its owner is mailed
    a reminder instead). Limited per client address (`HALLWAY_SIGNUPS_PER_ADDRESS`)."""
    pending = await signup_flow.request_signup(
        ctx, client, str(request.base_url), **body.model_dump()
    )
    return SignupPending.model_validate(pending)


@router.post(
    "/auth/login",
    response_model=Session,
    responses={
        401: {
            "description": "`invalid_credentials`: no account with that email and password; "
            "`account_deactivated`"
        },
        **RATE_LIMITED,
    },
)
async def login(body: LoginRequest, ctx: Ctx, client: Client) -> Session:
    """Exchange email and password for a new session: an access token and a refresh token.
    Wrong passwords are limited per account and per client address: past the limit every
    attempt answers 429, whether or not the account exists, with a wait that grows."""
    return _session(await accounts.login(ctx, client, email=body.email, password=body.password))


@router.post(
    "/auth/join",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SignupPending,
    responses=_PENDING,
)
async def join(body: JoinRequest, request: Request, ctx: Ctx, client: Client) -> SignupPending:
    """Ask to join the company of an invite code as a member. As for sign-up, a link is
    mailed and `POST /auth/confirm` finishes; the invite is checked now and used up then.
    When the address is an unclaimed imported account of that company (docs/import.md),
    the link claims it instead: it gets the password chosen, its name and history stay.
    Limited per client address (`HALLWAY_JOINS_PER_ADDRESS`)."""
    pending = await signup_flow.request_join(
        ctx, client, str(request.base_url), **body.model_dump()
    )
    return SignupPending.model_validate(pending)


@router.post(
    "/auth/confirm",
    status_code=status.HTTP_201_CREATED,
    response_model=Session,
    responses={
        404: {"description": "the company of the invite is gone"},
        409: {"description": "`email_taken`: the address got an account meanwhile"},
    },
)
async def confirm(body: SignupConfirmation, ctx: Ctx, client: Client) -> Session:
    """Finish a sign-up or a join with the token of its mailed link, and log in. The link
    works once; 422 `invalid_signup_token` when it is unknown, used or expired, 409
    `email_taken` when the address got an account meanwhile."""
    return _session(await signup_flow.confirm_signup(ctx, client, body.token))


@router.post(
    "/auth/refresh",
    response_model=Session,
    responses={401: {"description": "`invalid_refresh_token`, or `session_revoked`"}},
)
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


@router.delete(
    "/me",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        409: {
            "description": "`no_password`: the account signs in through an identity provider "
            "(an admin deletes it); `last_admin`: the company would be left without one"
        }
    },
)
async def delete_account(body: AccountDeletionRequest, ctx: Ctx, actor: CurrentActor) -> None:
    """Delete the caller's own account (needs the current password; a wrong one answers
    401 `invalid_credentials`). Every session and socket of theirs ends; they leave every
    group and channel; their name becomes "former member" on what they wrote, which stays
    unless `erase_messages` is true (then each message is erased as a delete erases it)."""
    await account_deletion.delete_own_account(
        ctx, actor, password=body.password, erase_messages=body.erase_messages
    )


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


_ADMINS_ONLY: Responses = {403: {"description": "`admin_required`: admins only"}}


@router.post(
    "/invites", status_code=status.HTTP_201_CREATED, response_model=Invite, responses=_ADMINS_ONLY
)
async def create_invite(body: InviteRequest, ctx: Ctx, actor: CurrentActor) -> Invite:
    """An invite code for the caller's company (admins only): good until it expires, for
    `max_uses` people (unset: any number), unless revoked."""
    return Invite.model_validate(
        await invites.create_invite(ctx, actor, max_uses=body.max_uses, expires_in=body.expires_in)
    )


@router.get("/invites", response_model=Invites, responses=_ADMINS_ONLY)
async def list_invites(ctx: Ctx, actor: CurrentActor) -> Invites:
    """The company's invites that can still be used (admins only), the newest first."""
    found = await invites.list_invites(ctx, actor)
    return Invites(invites=[Invite.model_validate(i) for i in found])


@router.delete("/invites/{code}", status_code=status.HTTP_204_NO_CONTENT, responses=_ADMINS_ONLY)
async def revoke_invite(code: str, ctx: Ctx, actor: CurrentActor) -> None:
    """Nobody joins with this code from now on (admins only); who joined stays."""
    await invites.revoke_invite(ctx, actor, code)
