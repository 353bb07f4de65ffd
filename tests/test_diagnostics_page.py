"""The client's /diagnostics page is served beside the client's files, for GET and HEAD."""

from __future__ import annotations

import pytest

from tests.support import Directory, error_of

pytestmark = pytest.mark.anyio


async def test_the_diagnostics_page_is_served(directory: Directory) -> None:
    client = directory.client
    page = await client.get("/diagnostics")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'src="diagnostics.js"' in page.text
    assert (await client.head("/diagnostics")).status_code == 200
    script = await client.get("/diagnostics.js")
    assert script.status_code == 200
    assert "BroadcastChannel" in script.text
    error_of(await client.post("/diagnostics"), 405, "method_not_allowed")
