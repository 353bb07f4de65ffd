"""Message search: words ANDed, the last as a prefix, newest first with a cursor; only the
caller's own conversations; deleted and edited messages; hostile queries."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import Directory, Person, error_of, named_fields, send

pytestmark = pytest.mark.anyio

SEARCH = "/api/v1/search"


async def search(person: Person, q: str, **params: Any) -> dict[str, Any]:
    r = await person.get(SEARCH, params={"q": q, **params})
    assert r.status_code == 200, r.text
    page: dict[str, Any] = r.json()
    return page


async def found(person: Person, q: str, **params: Any) -> list[str]:
    """The bodies the search finds, newest first."""
    return [r["message"]["body"] for r in (await search(person, q, **params))["results"]]


@pytest.fixture
async def team(directory: Directory) -> tuple[Person, Person, dict[str, Any]]:
    return await directory.team("Search")


async def test_all_words_must_occur_in_any_order_and_case(team: Any) -> None:
    admin, bob, conversation = team
    for body in ["Deploy the API today", "the api is down", "deploy tomorrow", "nothing here"]:
        await send(admin, conversation["id"], body)
    assert await found(bob, "api") == ["the api is down", "Deploy the API today"]
    assert await found(bob, "API DEPLOY") == ["Deploy the API today"]
    assert await found(bob, "deploy") == ["deploy tomorrow", "Deploy the API today"]
    assert await found(bob, "absent") == []


async def test_the_last_word_also_matches_as_a_prefix(team: Any) -> None:
    admin, bob, conversation = team
    for body in ["planning the launch", "a plan", "planet earth", "explained"]:
        await send(admin, conversation["id"], body)
    assert await found(bob, "pla") == ["planet earth", "a plan", "planning the launch"]
    assert await found(bob, "launch plan") == ["planning the launch"]
    # Only the last word is a prefix; earlier words match whole words.
    assert await found(bob, "pla earth") == []
    # A last word of one or two letters matches whole words only.
    await send(admin, conversation["id"], "pl ok")
    assert await found(bob, "pl") == ["pl ok"]


async def test_highlight_gives_the_matched_words_in_code_points(team: Any) -> None:
    admin, bob, conversation = team
    body = "😀 Café, café! Caféine et thé"
    await send(admin, conversation["id"], body)
    [result] = (await search(bob, "thé café"))["results"]
    assert result["message"]["body"] == body
    # Code points: the emoji counts one, as in Python (two UTF-16 units in JavaScript).
    spans = [body[start:end] for start, end in result["highlight"]]
    assert spans == ["Café", "café", "Caféine", "thé"]
    assert result["highlight"][0] == [2, 6]


async def test_words_in_other_scripts(team: Any) -> None:
    admin, bob, conversation = team
    await send(admin, conversation["id"], "Привет, мир")
    await send(admin, conversation["id"], "Straße und Brücke")
    assert await found(bob, "мир") == ["Привет, мир"]
    assert await found(bob, "ПРИВЕТ") == ["Привет, мир"]
    assert await found(bob, "brücke") == ["Straße und Brücke"]


async def test_pages_follow_the_cursor_without_gaps_or_repeats(team: Any) -> None:
    admin, bob, conversation = team
    sent = [await send(admin, conversation["id"], f"report number {i}") for i in range(23)]
    await send(admin, conversation["id"], "unrelated")
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 5} | ({"cursor": cursor} if cursor else {})
        page = await search(bob, "report", **params)
        pages += 1
        seen += [r["message"]["id"] for r in page["results"]]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        assert len(page["results"]) == 5
        cursor = page["next_cursor"]
    assert pages == 5
    assert seen == [m["id"] for m in reversed(sent)]


async def test_default_limit_is_twenty(team: Any) -> None:
    admin, bob, conversation = team
    for i in range(21):
        await send(admin, conversation["id"], f"ping {i}")
    page = await search(bob, "ping")
    assert len(page["results"]) == 20
    assert page["has_more"] is True


@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten"])
async def test_limit_is_one_to_a_hundred(team: Any, limit: str) -> None:
    _, bob, _ = team
    r = await bob.get(SEARCH, params={"q": "x", "limit": limit})
    assert named_fields(error_of(r, 422)) == {"limit"}


@pytest.mark.parametrize(
    "cursor", ["garbage!", "c2VxfDE", "cm93fDE", "MjAyNnxub3BlCg", "", "AA", "=" * 10]
)
async def test_a_forged_cursor_is_a_clear_422(team: Any, cursor: str) -> None:
    admin, bob, conversation = team
    await send(admin, conversation["id"], "something")
    r = await bob.get(SEARCH, params={"q": "something", "cursor": cursor})
    # One of the two backends takes "cm93fDE" (row|1) or a time|id cursor; never a 500.
    assert r.status_code in (200, 422), r.text
    if r.status_code == 422:
        assert named_fields(error_of(r, 422, "invalid_cursor")) == {"cursor"}


async def test_a_conversation_filter(directory: Directory, team: Any) -> None:
    admin, bob, conversation = team
    other = await directory.conversation(admin, "group", [bob], "Other")
    await send(admin, conversation["id"], "budget in search")
    await send(admin, other["id"], "budget in other")
    assert await found(bob, "budget") == ["budget in other", "budget in search"]
    assert await found(bob, "budget", conversation_id=other["id"]) == ["budget in other"]


async def test_outsiders_find_nothing_and_a_filter_on_a_foreign_conversation_is_404(
    directory: Directory, team: Any
) -> None:
    admin, bob, conversation = team
    colleague = await directory.colleague(admin, "Colleague")
    stranger = await directory.company("Elsewhere")
    await send(admin, conversation["id"], "secret merger plans")
    for outsider in (colleague, stranger):
        await send(
            outsider,
            (await directory.conversation(outsider, "channel", [], "mine"))["id"],
            "my own secret",
        )
        assert await found(outsider, "secret") == ["my own secret"]
        params = {"q": "secret", "conversation_id": conversation["id"]}
        error_of(await outsider.get(SEARCH, params=params), 404, "not_found")
    for unknown in ["00000000-0000-0000-0000-000000000000", "not-an-id", "x\x00"]:
        r = await bob.get(SEARCH, params={"q": "secret", "conversation_id": unknown})
        error_of(r, 404, "not_found")


async def test_an_open_channel_is_searched_only_once_joined(directory: Directory) -> None:
    admin = await directory.company()
    colleague = await directory.colleague(admin, "Colleague")
    channel = await directory.conversation(admin, "channel", [], "general")
    await send(admin, channel["id"], "announcement for everyone")
    assert await found(colleague, "announcement") == []
    joined = await colleague.post(
        f"/api/v1/conversations/{channel['id']}/members", json={"user_ids": [colleague.id]}
    )
    assert joined.status_code < 300, joined.text
    assert await found(colleague, "announcement") == ["announcement for everyone"]


async def test_a_removed_member_finds_nothing_of_the_conversation(team: Any) -> None:
    admin, bob, conversation = team
    await send(admin, conversation["id"], "before removal")
    assert await found(bob, "removal") == ["before removal"]
    r = await admin.delete(f"/api/v1/conversations/{conversation['id']}/members/{bob.id}")
    assert r.status_code == 204, r.text
    await send(admin, conversation["id"], "after removal")
    assert await found(bob, "removal") == []
    r = await bob.get(SEARCH, params={"q": "removal", "conversation_id": conversation["id"]})
    error_of(r, 404, "not_found")


async def test_deleted_messages_never_match_and_edits_match_the_new_body(team: Any) -> None:
    admin, bob, conversation = team
    gone = await send(admin, conversation["id"], "delete this password")
    edited = await send(admin, conversation["id"], "old wording here")
    r = await admin.delete(f"/api/v1/messages/{gone['id']}")
    assert r.status_code == 204, r.text
    r = await admin.patch(f"/api/v1/messages/{edited['id']}", json={"body": "new phrasing here"})
    assert r.status_code == 200, r.text
    assert await found(bob, "password") == []
    assert await found(bob, "wording") == []
    assert await found(bob, "phrasing") == ["new phrasing here"]
    [result] = (await search(bob, "here"))["results"]
    assert result["message"]["id"] == edited["id"]
    assert result["message"]["edited_at"] is not None


@pytest.mark.parametrize(
    "q",
    [
        '"',
        '"unbalanced',
        "*",
        "alpha*",
        "NEAR(alpha beta)",
        "alpha OR beta",
        "alpha AND NOT beta",
        "-alpha",
        "alpha:beta",
        "body:alpha",
        "alpha & !beta | (gamma",
        "'alpha'",
        "alpha\\",
        "^alpha",
        "{alpha beta}",
        "alpha + beta",
        "日本語のテキスト",
        "😀",
        "e\u0301",
        "\u200b",
        "alpha\x00",
        "x" * 1000,
        "a " * 500,
        "word " * 16,
    ],
)
async def test_hostile_queries_answer_200_or_a_clear_422(team: Any, q: str) -> None:
    admin, bob, conversation = team
    await send(admin, conversation["id"], "alpha beta gamma")
    r = await bob.get(SEARCH, params={"q": q})
    assert r.status_code in (200, 422), r.text
    if r.status_code == 422:
        assert named_fields(error_of(r, 422)) == {"q"}
    else:
        bodies = [x["message"]["body"] for x in r.json()["results"]]
        assert bodies in ([], ["alpha beta gamma"])


async def test_query_syntax_is_taken_as_words(team: Any) -> None:
    admin, bob, conversation = team
    await send(admin, conversation["id"], "alpha beta")
    await send(admin, conversation["id"], "go or stay")
    # No database's syntax: OR and NEAR are words, "-" does not negate, a quoted word is
    # that word (test_search_operators.py has the phrases and filters).
    assert await found(bob, "alpha OR beta") == []
    assert await found(bob, "go OR") == ["go or stay"]
    assert await found(bob, 'NEAR("alpha" beta)') == []
    assert await found(bob, '"alpha" -beta') == ["alpha beta"]
    assert await found(bob, "alpha:beta*") == ["alpha beta"]


@pytest.mark.parametrize(
    ("q", "code"),
    [("", None), ("   ", "empty_query"), ("!!! --- ***", "empty_query"), ("x" * 1001, None)],
)
async def test_a_query_without_words_or_too_long_is_422(team: Any, q: str, code: str) -> None:
    _, bob, _ = team
    r = await bob.get(SEARCH, params={"q": q})
    assert named_fields(error_of(r, 422, code)) == {"q"}


async def test_too_many_or_too_long_words_are_422(team: Any) -> None:
    _, bob, _ = team
    for q in ["word " * 17, "x" * 101]:
        r = await bob.get(SEARCH, params={"q": q})
        assert named_fields(error_of(r, 422, "invalid_input")) == {"q"}


async def test_search_needs_a_token(client: Any) -> None:
    r = await client.get(SEARCH, params={"q": "anything"})
    error_of(r, 401)
