"""The import_keys of a company's Slack records: which row each became."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from hallway.store.bulk import insert_rows
from hallway.store.database import Connection
from hallway.store.tables import companies, import_keys

SOURCE = "slack"
WORKSPACE, USER, CONVERSATION, MESSAGE = "workspace", "user", "conversation", "message"


async def read_keys(
    conn: Connection, company_id: str, kind: str, scope: str = ""
) -> dict[str, str]:
    """External id to local id, for every record of this kind (and scope) imported."""
    rows = await conn.execute(
        select(import_keys.c.external_id, import_keys.c.local_id).where(
            import_keys.c.company_id == company_id,
            import_keys.c.source == SOURCE,
            import_keys.c.kind == kind,
            import_keys.c.scope == scope,
        )
    )
    return {r.external_id: r.local_id for r in rows}


def key_rows(
    company_id: str, kind: str, pairs: Iterable[tuple[str, str]], scope: str = ""
) -> list[dict[str, Any]]:
    """Rows of import_keys for (external id, local id) pairs."""
    return [
        {
            "company_id": company_id,
            "source": SOURCE,
            "kind": kind,
            "scope": scope,
            "external_id": external_id,
            "local_id": local_id,
        }
        for external_id, local_id in pairs
    ]


async def write_keys(
    conn: Connection,
    company_id: str,
    kind: str,
    pairs: Iterable[tuple[str, str]],
    scope: str = "",
) -> None:
    await insert_rows(conn, import_keys, key_rows(company_id, kind, pairs, scope))


async def companies_of_workspace(conn: Connection, team_id: str) -> dict[str, str]:
    """Company id to name, of every company this Slack workspace was imported into."""
    rows = await conn.execute(
        select(companies.c.id, companies.c.name)
        .join(import_keys, import_keys.c.company_id == companies.c.id)
        .where(
            import_keys.c.source == SOURCE,
            import_keys.c.kind == WORKSPACE,
            import_keys.c.external_id == team_id,
        )
    )
    return {r.id: r.name for r in rows}
