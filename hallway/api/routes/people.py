"""The company directory."""

from __future__ import annotations

from fastapi import APIRouter, Request

from hallway.api.deps import Ctx, CurrentActor
from hallway.api.routes import API_PREFIX, ERRORS
from hallway.api.schemas import People, Person
from hallway.domain import accounts

router = APIRouter(prefix=API_PREFIX, tags=["people"], responses=ERRORS)


@router.get("/users", response_model=People)
async def list_people(request: Request, ctx: Ctx, actor: CurrentActor) -> People:
    """Everyone in the caller's company, by display name, with who is online now."""
    people = await accounts.list_people(ctx, actor)
    online = await request.app.state.presence.online(actor.company_id, [p["id"] for p in people])
    return People(
        users=[
            Person.model_validate({**p, "presence": "online" if p["id"] in online else "offline"})
            for p in people
        ]
    )
