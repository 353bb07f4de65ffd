"""schemathesis against the live OpenAPI document of a real server, as a signed-in person:
every operation, with input that fits its schema and input that does not, must never answer
5xx, and must answer only what the document says it answers (status, content type, headers
and body); input that does not fit must be refused with a 4xx.

Bounded for CI: a fixed number of examples per operation and kind of input, derived from a
fixed seed (the same requests each run), on each stack."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from hypothesis.strategies import SearchStrategy

from tests.support import FUZZ_SUMMARY, Directory, ServerProcess, send

# Per operation and kind of input. About 50 operations, three kinds: a few thousand requests
# a stack.
EXAMPLES = 8
PASSWORD = "correct horse battery"
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
CONFIG = schemathesis.Config.from_dict(
    {
        # A query parameter or header the operation does not name is ignored, as HTTP
        # servers do: the document never promises to refuse one.
        "generation": {"allow-extra-parameters": False},
        "checks": {
            "enabled": False,
            **{name: {"enabled": True} for name in CHECKS},
            # A body too large is refused before it is read (413), whatever else it breaks.
            "negative_data_rejection": {
                "enabled": True,
                "expected-statuses": ["400", "401", "403", "404", "409", "413", "422", "429"],
            },
        },
    }
)
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    # A failure is recorded, not raised: nothing to shrink.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


Operation = schemathesis.APIOperation[Any, Any, Any, Any]
Case = schemathesis.Case[Any]


@dataclass
class World:
    """What the fuzzed person has: ids that make requests reach past "not found"."""

    email: str
    ids: dict[str, str]


@dataclass
class Tally:
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    answered_2xx: set[str] = field(default_factory=set)
    failures: dict[str, str] = field(default_factory=dict)


async def _world(base_url: str) -> World:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        admin, bob, conversation = await Directory(client).team("fuzz")
        message = await send(admin, conversation["id"], "fuzz me")
        invite = (await admin.post("/api/v1/invites", json={})).json()
    return World(
        email=admin.email,
        ids={
            "conversation_id": conversation["id"],
            "message_id": message["id"],
            "user_id": bob.id,
            "code": invite["code"],
        },
    )


def _sign_in(base_url: str, email: str) -> dict[str, str]:
    """A new session's headers: an operation fuzzed before may have ended the last one
    (logout, log out everywhere)."""
    r = httpx.post(
        f"{base_url}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=10
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _strategies(operation: Operation, ids: dict[str, str]) -> dict[str, SearchStrategy[Case]]:
    """The kinds of input: the colleague's real ids in the path (so requests reach the
    domain), any that fit the schema, and some that do not."""
    names = {p.name for p in operation.path_parameters}
    known = {name: value for name, value in ids.items() if name in names}
    kinds = {
        "positive": operation.as_strategy(),
        "negative": operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE),
    }
    if known:
        kinds["real ids"] = operation.as_strategy(path_parameters=known)
    return kinds


def _fuzz(
    operation: Operation,
    kind: str,
    strategy: SearchStrategy[Case],
    call: Callable[[Case], schemathesis.Response],
    tally: Tally,
) -> None:
    label = f"{operation.label} ({kind})"

    @FUZZ
    @given(case=strategy)
    def check(case: Case) -> None:
        tally.cases += 1
        response = None
        # schemathesis raises its failures as one group.
        try:
            response = call(case)
        except* Exception as failures:
            tally.failures.setdefault(label, str(failures))
        if response is not None:
            tally.statuses[response.status_code] += 1
            if response.status_code < 300:
                tally.answered_2xx.add(operation.label)

    # Unsatisfiable: nothing of this kind to make (no parameter and no body to break).
    with contextlib.suppress(Unsatisfiable):
        check()


# The fuzzed person's wrong passwords (DELETE /me, POST /me/password) must not lock them
# out, and rate limits must not stand between the fuzzing and what it fuzzes.
UNLIMITED = {
    name: "100000 per hour"
    for name in (
        "login_failures_per_account",
        "uploads_per_person",
        "searches_per_person",
        "edits_per_person",
    )
}


def test_every_operation_answers_as_documented(
    start_server: Callable[..., ServerProcess], stack: str, record_property: Callable[..., None]
) -> None:
    server = start_server(**UNLIMITED)
    world = asyncio.run(_world(server.base_url))
    schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json", config=CONFIG)
    tally = Tally()
    operations = [operation for methods in schema.values() for operation in methods.values()]
    for operation in operations:
        headers = _sign_in(server.base_url, world.email)

        def call(case: Case, headers: dict[str, str] = headers) -> Any:
            return case.call_and_validate(base_url=server.base_url, headers=headers, timeout=10)

        for kind, strategy in _strategies(operation, world.ids).items():
            _fuzz(operation, kind, strategy, call, tally)

    # Said at the end of the run (conftest.py's summary).
    record_property(
        FUZZ_SUMMARY,
        f"{stack}: {tally.cases} cases, {len(tally.failures)} failures, "
        f"answers {dict(sorted(tally.statuses.items()))}",
    )
    assert tally.failures == {}, "\n\n".join(f"{k}:\n{v}" for k, v in tally.failures.items())
    # The fuzzing reached past the token and the ids: most operations answered 2xx to
    # something.
    assert len(tally.answered_2xx) >= len(operations) // 2, sorted(tally.answered_2xx)
