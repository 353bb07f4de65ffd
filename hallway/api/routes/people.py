"""The company directory, and an admin's hold over its people."""

from __future__ import annotations

from fastapi import APIRouter, Request

from hallway.api.deps import Ctx, CurrentActor
from hallway.api.routes import API_PREFIX, Responses
from hallway.api.schemas import (
    PasswordResetLink,
    People,
    Person,
    PersonChangeRequest,
    PersonDeletionRequest,
    User,
)
from hallway.domain import account_deletion, accounts, password_reset, people_admin

router = APIRouter(prefix=API_PREFIX, tags=["people"])


@router.get("/users", response_model=People)
async def list_people(request: Request, ctx: Ctx, actor: CurrentActor) -> People:
    """Everyone in the caller's company, by display name, with who is online (or away)
    now. Deleted accounts stay listed (`deleted`, named "former member"), so their messages
    keep a name."""
    people = await accounts.list_people(ctx, actor)
    presence = request.app.state.presence
    statuses = await presence.statuses(actor.company_id, [p["id"] for p in people])
    return People(
        users=[
            Person.model_validate({**p, "presence": statuses.get(p["id"], "offline")})
            for p in people
        ]
    )


_ADMIN_ONLY: Responses = {
    403: {"description": "`admin_required`: admins only"},
    409: {"description": "`last_admin`: the company would be left without an active admin"},
}


@router.post("/users/{user_id}/deactivate", response_model=User, responses=_ADMIN_ONLY)
async def deactivate(user_id: str, ctx: Ctx, actor: CurrentActor) -> User:
    """Deactivate a person of the caller's company (admins only): their sessions end and
    their sockets close at once, they cannot log in; their name stays on their messages."""
    return User.model_validate(await people_admin.deactivate(ctx, actor, user_id))


@router.post("/users/{user_id}/reactivate", response_model=User, responses=_ADMIN_ONLY)
async def reactivate(user_id: str, ctx: Ctx, actor: CurrentActor) -> User:
    """Let a deactivated person log in again (admins only)."""
    return User.model_validate(await people_admin.reactivate(ctx, actor, user_id))


@router.post(
    "/users/{user_id}/password-reset",
    status_code=201,
    response_model=PasswordResetLink,
    responses={
        **_ADMIN_ONLY,
        409: {
            "description": "`account_deactivated`: reactivate the person first; `no_password`: "
            "they sign in through an identity provider"
        },
        503: {"description": "`mail_failed`: the mail server did not take the mail"},
    },
)
async def issue_password_reset(
    user_id: str, request: Request, ctx: Ctx, actor: CurrentActor
) -> PasswordResetLink:
    """A one-time link (HALLWAY_PASSWORD_RESET_TTL_SECONDS, 15 min) for a person of the
    caller's company to choose a new password (admins only). Mailed to them when SMTP is
    configured; otherwise answered here for the admin to pass on."""
    link = await password_reset.issue_reset(ctx, actor, user_id, str(request.base_url))
    return PasswordResetLink.model_validate(link)


@router.patch("/users/{user_id}", response_model=User, responses=_ADMIN_ONLY)
async def change_person(
    user_id: str, body: PersonChangeRequest, ctx: Ctx, actor: CurrentActor
) -> User:
    """Change a person's role (admins only); it holds from their next request."""
    return User.model_validate(await people_admin.change_role(ctx, actor, user_id, body.role))


@router.delete("/users/{user_id}", response_model=User, responses=_ADMIN_ONLY)
async def delete_person(
    user_id: str, ctx: Ctx, actor: CurrentActor, body: PersonDeletionRequest | None = None
) -> User:
    """Delete the account of a person of the caller's company (admins only; your own is
    `DELETE /me`). Their sessions end and sockets close at once; they leave every group and
    channel; their name becomes "former member" on what they wrote, which stays unless
    `erase_messages` is true (then each message is erased as a delete erases it). A deleted
    account is not found again."""
    erase = body.erase_messages if body is not None else False
    return User.model_validate(
        await account_deletion.delete_person(ctx, actor, user_id, erase_messages=erase)
    )
