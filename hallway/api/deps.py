"""Request dependencies: the domain context and the authenticated actor."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hallway.domain.actor import Actor
from hallway.domain.context import DomainContext
from hallway.domain.errors import Unauthenticated
from hallway.domain.tokens import authenticate

_bearer = HTTPBearer(auto_error=False, description="the access_token from signup/login/join")


async def get_ctx(request: Request) -> DomainContext:
    # async on purpose: FastAPI runs plain-def dependencies in a worker thread per request.
    ctx: DomainContext = request.app.state.ctx
    return ctx


async def get_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    if credentials is None:
        raise Unauthenticated("send Authorization: Bearer <access_token>")
    return await authenticate(request.app.state.ctx, credentials.credentials)


Ctx = Annotated[DomainContext, Depends(get_ctx)]
CurrentActor = Annotated[Actor, Depends(get_actor)]
