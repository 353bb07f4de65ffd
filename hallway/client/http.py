"""The HTTP half of the client: one method per API route it needs, dicts in and out."""

from __future__ import annotations

from typing import Any

import httpx

from hallway.client.realtime import RealtimeClient


class ApiError(Exception):
    """An error answer, carrying the API's error code."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.details = details


class HallwayClient:
    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        http: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.user: dict[str, Any] | None = None
        self._http = http or httpx.AsyncClient(base_url=self.base_url, timeout=timeout)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> HallwayClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = kwargs.pop("headers", {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        response = await self._http.request(method, f"/api/v1{path}", headers=headers, **kwargs)
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                error = {"code": "http_error", "message": response.text, "details": {}}
            raise ApiError(
                response.status_code, error["code"], error["message"], error.get("details", {})
            )
        return response.json() if response.content else None

    def _session(self, body: dict[str, Any]) -> dict[str, Any]:
        self.token = body["access_token"]
        self.user = body["user"]
        return body

    # --- accounts ----------------------------------------------------------------------

    async def signup(
        self, company_name: str, email: str, password: str, display_name: str
    ) -> dict[str, Any]:
        """Ask for a new company; the server mails the link to finish (see confirm)."""
        result: dict[str, Any] = await self.request(
            "POST",
            "/auth/signup",
            json={
                "company_name": company_name,
                "email": email,
                "password": password,
                "display_name": display_name,
            },
        )
        return result

    async def confirm(self, token: str) -> dict[str, Any]:
        """Finish a sign-up or join with its mailed link's token, and log in."""
        return self._session(await self.request("POST", "/auth/confirm", json={"token": token}))

    async def login(self, email: str, password: str) -> dict[str, Any]:
        return self._session(
            await self.request("POST", "/auth/login", json={"email": email, "password": password})
        )

    async def join(
        self, invite_code: str, email: str, password: str, display_name: str
    ) -> dict[str, Any]:
        """Ask to join with an invite; the server mails the link to finish (see confirm)."""
        result: dict[str, Any] = await self.request(
            "POST",
            "/auth/join",
            json={
                "invite_code": invite_code,
                "email": email,
                "password": password,
                "display_name": display_name,
            },
        )
        return result

    async def create_invite(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("POST", "/invites", json={})
        return result

    async def me(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", "/me")
        return result

    async def people(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = (await self.request("GET", "/users"))["users"]
        return result

    # --- conversations -----------------------------------------------------------------

    async def create_conversation(
        self, kind: str, member_ids: list[str], title: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": kind, "member_ids": member_ids}
        if title is not None:
            body["title"] = title
        result: dict[str, Any] = await self.request("POST", "/conversations", json=body)
        return result

    async def conversations(self, limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        result: dict[str, Any] = await self.request("GET", "/conversations", params=params)
        return result

    async def add_members(self, conversation_id: str, user_ids: list[str]) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(
            "POST", f"/conversations/{conversation_id}/members", json={"user_ids": user_ids}
        )
        return result

    async def remove_member(self, conversation_id: str, user_id: str) -> None:
        await self.request("DELETE", f"/conversations/{conversation_id}/members/{user_id}")

    async def mark_read(self, conversation_id: str, seq: int) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(
            "POST", f"/conversations/{conversation_id}/read", json={"seq": seq}
        )
        return result

    # --- messages ----------------------------------------------------------------------

    async def send_message(
        self,
        conversation_id: str,
        body: str,
        *,
        client_msg_id: str | None = None,
        attachment_ids: list[str] | None = None,
        thread_root_id: str | None = None,
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"body": body}
        if client_msg_id is not None:
            payload["client_msg_id"] = client_msg_id
        if attachment_ids:
            payload["attachment_ids"] = attachment_ids
        if thread_root_id is not None:
            payload["thread_root_id"] = thread_root_id
        result: dict[str, Any] = await self.request(
            "POST", f"/conversations/{conversation_id}/messages", json=payload
        )
        return result

    async def history(
        self, conversation_id: str, limit: int = 20, before: str | None = None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if before:
            params["before"] = before
        result: dict[str, Any] = await self.request(
            "GET", f"/conversations/{conversation_id}/messages", params=params
        )
        return result

    async def events(
        self, conversation_id: str, after_seq: int, limit: int = 500
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(
            "GET",
            f"/conversations/{conversation_id}/events",
            params={"after_seq": after_seq, "limit": limit},
        )
        return result

    # --- realtime ----------------------------------------------------------------------

    def realtime(self, **options: Any) -> RealtimeClient:
        """A realtime connection authenticated as this client (call `start()` on it)."""
        if not self.token:
            raise RuntimeError("log in before opening a realtime connection")
        ws_base = "ws" + self.base_url.removeprefix("http")
        return RealtimeClient(f"{ws_base}/api/v1/realtime", self.token, **options)
