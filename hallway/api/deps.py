"""Request dependencies: the domain context and the authenticated actor."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from starlette.requests import HTTPConnection

from hallway.domain.actor import Actor
from hallway.domain.context import DomainContext
from hallway.domain.errors import Unauthenticated
from hallway.domain.sessions import ClientInfo
from hallway.domain.tokens import authenticate
from hallway.store.acting import act_as


async def get_ctx(request: Request) -> DomainContext:
    # async on purpose: FastAPI runs plain-def dependencies in a worker thread per request.
    ctx: DomainContext = request.app.state.ctx
    return ctx


class BearerActor(HTTPBearer):
    """The Actor behind `Authorization: Bearer <access_token>`.

    HTTPBearer itself reads the header and documents the security scheme (still named
    `HTTPBearer` in the OpenAPI document); answering the Actor from it makes one dependency
    where a function on top of HTTPBearer made two, and FastAPI solves each one per request."""

    async def __call__(self, request: HTTPConnection) -> Actor:  # type: ignore[override]
        credentials = await super().__call__(request)
        if credentials is None:
            raise Unauthenticated("send Authorization: Bearer <access_token>")
        actor = await authenticate(request.app.state.ctx, credentials.credentials)
        # The rest of the request (its own task) acts as this person in the database.
        act_as(actor.user_id, actor.company_id)
        return actor


get_actor = BearerActor(
    scheme_name="HTTPBearer",
    auto_error=False,
    description="the access_token from signup/login/join",
)


async def get_client(request: Request) -> ClientInfo:
    """Where the request comes from, for the sessions list."""
    # As uvicorn found it: behind a load balancer, from X-Forwarded-For when
    # FORWARDED_ALLOW_IPS trusts it (docs/deploy.md).
    address = request.client.host if request.client is not None else None
    return ClientInfo.of(request.headers.get("user-agent"), address)


Ctx = Annotated[DomainContext, Depends(get_ctx)]
CurrentActor = Annotated[Actor, Depends(get_actor)]
Client = Annotated[ClientInfo, Depends(get_client)]
