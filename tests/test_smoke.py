from __future__ import annotations

import pytest

from tests.support import Directory

pytestmark = pytest.mark.anyio


async def test_signup_send_and_read_history(directory: Directory) -> None:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    conversation = await directory.conversation(admin, "direct", [bob])
    sent = await admin.post(
        f"/api/v1/conversations/{conversation['id']}/messages", json={"body": "hello"}
    )
    assert sent.status_code == 201, sent.text
    page = await bob.get(f"/api/v1/conversations/{conversation['id']}/messages")
    assert page.status_code == 200
    assert [m["body"] for m in page.json()["messages"]] == ["hello"]
