"""The routes that answer with pre-serialised JSON (FastAPI does not validate those) answer
exactly what their OpenAPI documentation says."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from hallway.api import schemas
from tests.files_support import png_bytes, send_files, uploaded
from tests.support import Directory, send

pytestmark = pytest.mark.anyio


def assert_documented(model: type[BaseModel], body: Any) -> None:
    """The body parses as the model, and the model gives back the very same JSON: no field
    missing, none undocumented, every value in the documented type and format."""
    assert model.model_validate(body).model_dump(mode="json") == body


async def documented_model(client: httpx.AsyncClient, method: str, path: str, status: int) -> str:
    """The schema name OpenAPI gives for that route's answer."""
    spec = (await client.get("/openapi.json")).json()
    content = spec["paths"][path][method]["responses"][str(status)]["content"]
    ref: str = content["application/json"]["schema"]["$ref"]
    return ref.rsplit("/", 1)[1]


async def test_send_and_history_answer_what_openapi_documents(
    client: httpx.AsyncClient, directory: Directory
) -> None:
    messages_path = "/api/v1/conversations/{conversation_id}/messages"
    assert await documented_model(client, "post", messages_path, 201) == "Message"
    assert await documented_model(client, "post", messages_path, 200) == "Message"
    assert await documented_model(client, "get", messages_path, 200) == "MessagePage"

    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    conversation = await directory.conversation(admin, "group", [bob], "Shapes")
    cid = conversation["id"]
    url = f"/api/v1/conversations/{cid}/messages"

    plain = await admin.post(url, json={"body": "plain", "client_msg_id": "s-1"})
    assert plain.status_code == 201
    assert_documented(schemas.Message, plain.json())
    again = await admin.post(url, json={"body": "plain", "client_msg_id": "s-1"})
    assert again.status_code == 200
    assert_documented(schemas.Message, again.json())

    picture = await uploaded(admin, cid, png_bytes(), filename="p.png", claimed_type="image/png")
    with_file = await send_files(admin, cid, [picture["id"]], "a picture")
    assert with_file.status_code == 201
    assert_documented(schemas.Message, with_file.json())
    reply = await send(bob, cid, "a reply", thread_root_id=plain.json()["id"])
    assert (await bob.put(f"/api/v1/messages/{reply['id']}/reactions/👍")).status_code == 204
    gone = await send(admin, cid, "to delete")
    assert (await admin.delete(f"/api/v1/messages/{gone['id']}")).status_code == 204

    first = await bob.get(url, params={"limit": 2})
    assert first.status_code == 200
    assert_documented(schemas.MessagePage, first.json())
    rest = await bob.get(url, params={"before": first.json()["next_cursor"]})
    assert_documented(schemas.MessagePage, rest.json())
