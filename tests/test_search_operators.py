"""Search filters and phrases (docs/search.md, "Filters and phrases"): the parser, and what
each filter finds on both backends."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hallway.domain.errors import InvalidInput
from hallway.domain.search_query import SearchQuery, parse_query
from tests.files_support import png_bytes, send_files, uploaded
from tests.support import Directory, error_of, named_fields, send
from tests.test_search import SEARCH, found, search

pytestmark = pytest.mark.anyio


def test_the_parser_splits_words_phrases_and_filters() -> None:
    parsed = parse_query(
        'deploy "release notes" from:@ann in:#General before:2026-12-01 '
        "after:2026-11-01 has:file HAS:link is:thread plan"
    )
    assert parsed == SearchQuery(
        words=["deploy", "plan"],
        prefix_last=True,
        phrases=[["release", "notes"]],
        senders=["ann"],
        conversations=["General"],
        before=date(2026, 12, 1),
        after=date(2026, 11, 1),
        has_file=True,
        has_link=True,
        is_thread=True,
    )
    assert parse_query('from:@"Ann Lee" in:"team room"').senders == ["Ann Lee"]
    assert parse_query('from:@"Ann Lee" in:"team room"').conversations == ["team room"]
    # A colon elsewhere is words: a URL, a time, an unknown key.
    assert parse_query("https://example.com at 10:30 note:x").words == [
        "https",
        "example",
        "com",
        "at",
        "10",
        "30",
        "note",
        "x",
    ]
    # A filter still being typed filters nothing; a quote still open is a phrase so far.
    assert parse_query("plan from:").senders == []
    assert parse_query('"release no').phrases == [["release", "no"]]
    assert parse_query('"one"').words == ["one"]


@pytest.mark.parametrize(
    ("q", "code"),
    [
        ("before:yesterday", "invalid_filter"),
        ("on:2026-02-30", "invalid_filter"),
        ("after:2026-1-1", "invalid_filter"),
        ("has:pictures", "invalid_filter"),
        ("is:pinned", "invalid_filter"),
        ("from:", "empty_query"),
        ('""', "empty_query"),
        ("has:file " * 17, "invalid_input"),
        ('"' + "w " * 17 + '"', "invalid_input"),
    ],
)
def test_the_parser_refuses_what_it_cannot_mean(q: str, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_query(q)
    assert (refused.value.code, refused.value.details) == (code, {"field": "q"})


@given(st.text(max_size=300))
def test_any_text_parses_or_is_refused_clearly(text: str) -> None:
    try:
        parsed = parse_query(text)
    except InvalidInput as refused:
        assert refused.details == {"field": "q"}
        return
    for word in parsed.text_words:
        assert word and word.isalnum() and word == word.lower()
    assert (
        parsed.has_text
        or parsed.senders
        or parsed.conversations
        or parsed.before
        or (parsed.after or parsed.on or parsed.has_file or parsed.has_link or parsed.is_thread)
    )


@pytest.fixture
async def office(directory: Directory) -> dict[str, Any]:
    """Ann ("Filters Admin") and Bob Lee in a group "Design" and a channel "General"."""
    ann = await directory.company("Filters")
    bob = await directory.colleague(ann, "Bob Lee")
    design = await directory.conversation(ann, "group", [bob], title="Design")
    general = await directory.conversation(ann, "channel", [bob], title="General")
    return {"ann": ann, "bob": bob, "design": design["id"], "general": general["id"]}


async def test_phrases_need_their_words_together_and_in_order(office: dict[str, Any]) -> None:
    ann, bob = office["ann"], office["bob"]
    for body in ["the release notes are out", "notes on the release", "release: notes!"]:
        await send(ann, office["design"], body)
    assert await found(bob, '"release notes"') == [
        "release: notes!",
        "the release notes are out",
    ]
    assert await found(bob, '"notes release"') == []
    assert await found(bob, 'out "release notes"') == ["the release notes are out"]
    page = await search(bob, '"release notes"')
    first = page["results"][-1]
    assert first["highlight"] == [[4, 11], [12, 17]]


async def test_from_and_in_name_people_and_conversations(office: dict[str, Any]) -> None:
    ann, bob = office["ann"], office["bob"]
    await send(ann, office["design"], "plan from ann in design")
    await send(bob, office["design"], "plan from bob in design")
    await send(bob, office["general"], "plan from bob in general")
    assert await found(ann, "plan from:@boblee") == [
        "plan from bob in general",
        "plan from bob in design",
    ]
    assert await found(ann, 'plan from:@"bob LEE" in:#design') == ["plan from bob in design"]
    # The part of the email before the @, or the id, names a person too.
    local_part = bob.email.split("@")[0]
    assert len(await found(ann, f"from:@{local_part}")) == 2
    assert len(await found(ann, f"from:{bob.id} in:general")) == 1
    # Filters alone, without words.
    assert await found(bob, "in:#General") == ["plan from bob in general"]
    assert await found(bob, "from:@filtersadmin from:@boblee in:design") == [
        "plan from bob in design",
        "plan from ann in design",
    ]
    for q, code in [
        ("plan from:@nobody", "unknown_person"),
        ("plan in:#nowhere", "unknown_conversation"),
    ]:
        r = await bob.get(SEARCH, params={"q": q})
        assert named_fields(error_of(r, 422, code)) == {"q"}


async def test_in_names_only_the_searchers_own_conversations(
    directory: Directory, office: dict[str, Any]
) -> None:
    ann = office["ann"]
    carol = await directory.colleague(ann, "Carol")
    await directory.conversation(ann, "group", [office["bob"]], title="Secret")
    r = await carol.get(SEARCH, params={"q": "in:#secret"})
    error_of(r, 422, "unknown_conversation")
    # Someone of another company is no one here.
    stranger = await directory.company("Elsewhere")
    r = await stranger.get(SEARCH, params={"q": "from:@filtersadmin"})
    error_of(r, 422, "unknown_person")


async def test_dates_are_utc_days(office: dict[str, Any]) -> None:
    ann, bob = office["ann"], office["bob"]
    sent = await send(ann, office["design"], "dated message")
    day = datetime.fromisoformat(sent["created_at"]).date()
    before, after = day - timedelta(days=1), day + timedelta(days=1)
    assert await found(bob, f"dated on:{day}") == ["dated message"]
    assert await found(bob, f"dated after:{before} before:{after}") == ["dated message"]
    assert await found(bob, f"dated before:{day}") == []
    assert await found(bob, f"dated after:{day}") == []


async def test_has_file_has_link_and_is_thread(office: dict[str, Any]) -> None:
    ann, bob = office["ann"], office["bob"]
    design = office["design"]
    picture = await uploaded(
        ann, design, png_bytes(), filename="shot.png", claimed_type="image/png"
    )
    r = await send_files(ann, design, [picture["id"]], body="topic with a file")
    assert r.status_code == 201, r.text
    root = await send(ann, design, "topic root, see https://example.com/x")
    await send(bob, design, "topic reply", thread_root_id=root["id"])
    await send(bob, design, "topic alone, http is not a link")
    assert await found(bob, "topic has:file") == ["topic with a file"]
    assert await found(bob, "topic has:link") == ["topic root, see https://example.com/x"]
    assert await found(bob, "topic is:thread") == [
        "topic reply",
        "topic root, see https://example.com/x",
    ]
    assert await found(bob, "has:file has:link") == []
    # A deleted message is found by no filter either.
    r = await ann.delete(f"/api/v1/messages/{root['id']}")
    assert r.status_code in (200, 204), r.text
    assert await found(bob, "has:link") == []


async def test_filters_alone_page_newest_first_without_gaps(office: dict[str, Any]) -> None:
    ann, bob = office["ann"], office["bob"]
    bodies = [f"note {n}" for n in range(7)]
    for body in bodies:
        await send(ann, office["general"], body)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor is not None:
            params["cursor"] = cursor
        page = await search(bob, "in:#general from:@filtersadmin", **params)
        seen += [r["message"]["body"] for r in page["results"]]
        assert all(r["highlight"] == [] for r in page["results"])
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert seen == bodies[::-1]
