"""Properties of the page cursors (hallway/domain/cursors.py), which clients hand back and
may forge: what is encoded decodes to itself, and any string at all given as a cursor is
either read or refused with `invalid_cursor` naming the field, never another error."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from hallway.domain.cursors import (
    CURSOR_PATTERN,
    decode_cursor,
    decode_number_cursor,
    decode_time_cursor,
    encode_cursor,
)
from hallway.domain.errors import InvalidInput
from hallway.domain.events import MAX_SEQ
from tests.fuzz_support import FUZZ, texts

# What cursors are made of: no separator, no NUL, and text that UTF-8 can encode.
parts = st.text(
    alphabet=st.characters(blacklist_characters="|\x00", blacklist_categories=["Cs"]),
    max_size=40,
) | st.integers(min_value=0, max_value=MAX_SEQ)
aware_times = st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7))]))


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8", "surrogatepass")).decode()


# Any string, and strings that decode to text of a cursor's shape (so that forgeries reach
# each check past the base64), padded or not.
forged = (
    st.text()
    | texts
    | st.binary(max_size=60).map(lambda b: base64.urlsafe_b64encode(b).decode())
    | st.lists(texts | st.integers().map(str), max_size=4).map(lambda p: _b64("|".join(p)))
    | st.tuples(st.sampled_from(["seq", "row"]), texts).map(lambda p: _b64("|".join(p)))
    | st.tuples(texts, texts).map(lambda p: _b64("|".join(p)).rstrip("="))
)


@FUZZ
@given(values=st.lists(parts, min_size=2, max_size=4))
def test_what_is_encoded_decodes_to_itself(values: list[str | int]) -> None:
    # Cursors are made of two parts or more: a kind, a time or a number, an id.
    cursor = encode_cursor(*values)
    assert re.fullmatch(CURSOR_PATTERN, cursor)
    assert decode_cursor(cursor) == [str(v) for v in values]


@FUZZ
@given(number=st.integers(min_value=0, max_value=MAX_SEQ), kind=st.sampled_from(["seq", "row"]))
def test_a_number_cursor_round_trips(number: int, kind: str) -> None:
    assert decode_number_cursor(encode_cursor(kind, number), kind, "before") == number


@FUZZ
@given(at=aware_times, item_id=parts.map(str))
def test_a_time_cursor_round_trips(at: datetime, item_id: str) -> None:
    assert decode_time_cursor(encode_cursor(at.isoformat(), item_id), "cursor") == (at, item_id)


def _read_or_refused(decode: object, cursor: str, field: str) -> None:
    assert callable(decode)
    try:
        decode(cursor)
    except InvalidInput as exc:
        assert exc.code == "invalid_cursor"
        assert exc.details == {"field": field}


@FUZZ
@given(cursor=forged)
def test_any_string_is_read_or_refused_as_an_invalid_cursor(cursor: str) -> None:
    _read_or_refused(lambda c: decode_number_cursor(c, "seq", "before"), cursor, "before")
    _read_or_refused(lambda c: decode_number_cursor(c, "row", "cursor"), cursor, "cursor")
    _read_or_refused(lambda c: decode_time_cursor(c, "cursor"), cursor, "cursor")
    try:
        decoded = decode_cursor(cursor, "after")
    except InvalidInput as exc:
        assert (exc.code, exc.details) == ("invalid_cursor", {"field": "after"})
    else:
        # What is read was written as a cursor is: nothing that a query could choke on.
        assert re.fullmatch(CURSOR_PATTERN, cursor)
        assert not any("\x00" in part for part in decoded)


@FUZZ
@given(cursor=forged)
def test_a_cursor_read_is_one_the_server_could_have_made(cursor: str) -> None:
    try:
        number = decode_number_cursor(cursor, "seq", "before")
    except InvalidInput:
        return
    assert 0 <= number <= MAX_SEQ
    assert decode_number_cursor(encode_cursor("seq", number), "seq", "before") == number
