"""Accounts: signup, login, join with an invite, who am I, invites."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from hallway.api.deps import Ctx, CurrentActor
from hallway.api.routes import API_PREFIX, ERRORS, RATE_LIMITED
from hallway.api.schemas import (
    Invite,
    InviteRequest,
    JoinRequest,
    LoginRequest,
    Session,
    SignupRequest,
    User,
)
from hallway.domain import accounts

router = APIRouter(prefix=API_PREFIX, tags=["auth"], responses=ERRORS)


def _session(session: accounts.Session) -> Session:
    return Session.model_validate(
        {
            "access_token": session.access_token,
            "expires_in": session.expires_in,
            "user": session.user,
        }
    )


def _address(request: Request) -> str | None:
    # The client's address as uvicorn found it: behind a load balancer, from X-Forwarded-For
    # when FORWARDED_ALLOW_IPS trusts it (docs/deploy.md).
    return request.client.host if request.client else None


@router.post(
    "/auth/signup",
    status_code=status.HTTP_201_CREATED,
    response_model=Session,
    responses=RATE_LIMITED,
)
async def signup(body: SignupRequest, request: Request, ctx: Ctx) -> Session:
    """Create a company with the caller as its first admin, and log in. Limited per client
    address (`HALLWAY_SIGNUPS_PER_ADDRESS`)."""
    return _session(
        await accounts.signup(ctx, **body.model_dump(), client_address=_address(request))
    )


@router.post("/auth/login", response_model=Session, responses=RATE_LIMITED)
async def login(body: LoginRequest, request: Request, ctx: Ctx) -> Session:
    """Exchange email and password for an access token. Wrong passwords are limited per
    account and per client address: past the limit every attempt answers 429, whether or not
    the account exists, with a wait that grows."""
    return _session(
        await accounts.login(
            ctx, email=body.email, password=body.password, client_address=_address(request)
        )
    )


@router.post(
    "/auth/join",
    status_code=status.HTTP_201_CREATED,
    response_model=Session,
    responses=RATE_LIMITED,
)
async def join(body: JoinRequest, request: Request, ctx: Ctx) -> Session:
    """Join the company of an invite code as a member, and log in. Limited per client
    address (`HALLWAY_JOINS_PER_ADDRESS`)."""
    return _session(await accounts.join(ctx, **body.model_dump(), client_address=_address(request)))


@router.get("/me", response_model=User)
async def me(ctx: Ctx, actor: CurrentActor) -> User:
    """The caller's own account."""
    return User.model_validate(await accounts.get_me(ctx, actor))


@router.post("/invites", status_code=status.HTTP_201_CREATED, response_model=Invite)
async def create_invite(_body: InviteRequest, ctx: Ctx, actor: CurrentActor) -> Invite:
    """An invite code for the caller's company (admins only); reusable until it expires."""
    return Invite.model_validate(await accounts.create_invite(ctx, actor))
