"""The search box's language: words, "quoted phrases" and filters (docs/search.md).

`parse_query` turns the text into a `SearchQuery` of plain values: words reduced to letters
and digits, dates, names to look up. Nothing of the text is ever handed to a database's
query syntax; hallway.store.search quotes each word as a literal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from hallway.domain.errors import InvalidInput

MAX_WORDS = 16
MAX_WORD_LENGTH = 100  # PostgreSQL cannot index a word of more than 2,047 bytes at all
MAX_FILTERS = 16
# A prefix of one or two letters names most of the vocabulary: matching it costs a merge of
# that many word lists, far more than any whole word, and grows with the history.
MIN_PREFIX_LENGTH = 3
WORD = re.compile(r"[^\W_]+")
# A filter is `key:value` at the start of a term; the value may be quoted ("Ann Lee").
# Anything else with a colon (`https://…`, `10:30`) is words.
_TERM = re.compile(
    r"""(?P<filter>(?P<key>[A-Za-z]+):[@#]?(?:"(?P<quoted>[^"]*)"?|(?P<bare>[^\s"]*)))"""
    r"""|"(?P<phrase>[^"]*)"?"""
    r"""|(?P<plain>[^\s"]+)"""
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_FILTER_KEYS = ("from", "in", "before", "after", "on", "has", "is")
HAS_VALUES = ("file", "link")
IS_VALUES = ("thread",)


@dataclass(frozen=True)
class SearchQuery:
    words: list[str] = field(default_factory=list)
    """Every one must occur (lower case); the last may match as a prefix."""
    prefix_last: bool = False
    phrases: list[list[str]] = field(default_factory=list)
    """Each: words that must occur together, in this order."""
    senders: list[str] = field(default_factory=list)
    """`from:` names, as typed (any one of them)."""
    conversations: list[str] = field(default_factory=list)
    """`in:` names, as typed (any one of them)."""
    before: date | None = None
    after: date | None = None
    on: date | None = None
    has_file: bool = False
    has_link: bool = False
    is_thread: bool = False

    @property
    def has_text(self) -> bool:
        return bool(self.words or self.phrases)

    @property
    def text_words(self) -> set[str]:
        """Every word the text must hold, phrases' included: what highlight marks."""
        return {*self.words, *(word for phrase in self.phrases for word in phrase)}


def parse_query(text: str) -> SearchQuery:
    if "\x00" in text:  # as in every other text field
        raise InvalidInput("q must not contain NUL characters", field="q")
    words: list[str] = []
    phrases: list[list[str]] = []
    filters: list[tuple[str, str]] = []
    for term in _TERM.finditer(text):
        key = (term["key"] or "").lower()
        if term["filter"] is not None and key in _FILTER_KEYS:
            value = term["quoted"] if term["quoted"] is not None else term["bare"]
            if value.strip():  # `from:` still being typed filters nothing yet
                filters.append((key, value.strip()))
        elif term["phrase"] is not None:
            phrase = _words(term["phrase"])
            if len(phrase) == 1:
                words.extend(phrase)
            elif phrase:
                phrases.append(phrase)
        else:
            words.extend(_words(term.group()))
    if len(words) + sum(len(p) for p in phrases) > MAX_WORDS:
        raise InvalidInput(f"q may have at most {MAX_WORDS} words", field="q")
    if len(filters) > MAX_FILTERS:
        raise InvalidInput(f"q may have at most {MAX_FILTERS} filters", field="q")
    query = _with_filters(
        SearchQuery(
            words=words,
            # A prefix of what is still being typed: never inside a closed phrase.
            prefix_last=bool(words) and len(words[-1]) >= MIN_PREFIX_LENGTH,
            phrases=phrases,
        ),
        filters,
    )
    if not query.has_text and not filters:
        raise InvalidInput(
            "q must contain a word (letters or digits) or a filter",
            code="empty_query",
            field="q",
        )
    return query


def _words(text: str) -> list[str]:
    found = [w.lower() for w in WORD.findall(text)]
    if any(len(w) > MAX_WORD_LENGTH for w in found):
        raise InvalidInput(f"a word of q may have at most {MAX_WORD_LENGTH} characters", field="q")
    return found


def _with_filters(query: SearchQuery, filters: list[tuple[str, str]]) -> SearchQuery:
    senders: list[str] = []
    conversations: list[str] = []
    dates: dict[str, date] = {}
    has: set[str] = set()
    is_: set[str] = set()
    for key, value in filters:
        if key == "from":
            senders.append(value)
        elif key == "in":
            conversations.append(value)
        elif key in ("before", "after", "on"):
            dates[key] = _date(key, value)
        elif key == "has":
            has.add(_choice(key, value, HAS_VALUES))
        else:
            is_.add(_choice(key, value, IS_VALUES))
    return SearchQuery(
        words=query.words,
        prefix_last=query.prefix_last,
        phrases=query.phrases,
        senders=senders,
        conversations=conversations,
        before=dates.get("before"),
        after=dates.get("after"),
        on=dates.get("on"),
        has_file="file" in has,
        has_link="link" in has,
        is_thread="thread" in is_,
    )


def _date(key: str, value: str) -> date:
    try:
        if not _DATE.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{key}: takes a date as YYYY-MM-DD, not {value[:40]!r}",
            code="invalid_filter",
            field="q",
        ) from None


def _choice(key: str, value: str, allowed: tuple[str, ...]) -> str:
    if value.lower() not in allowed:
        raise InvalidInput(
            f"{key}: takes {' or '.join(allowed)}, not {value[:40]!r}",
            code="invalid_filter",
            field="q",
        )
    return value.lower()


def highlight(body: str, query: SearchQuery) -> list[list[int]]:
    """[start, end) offsets, in code points, of the body's words that the query matched."""
    exact = query.text_words
    prefix = query.words[-1] if query.prefix_last else None
    ranges = []
    for m in WORD.finditer(body):
        word = m.group().lower()
        if word in exact or (prefix is not None and word.startswith(prefix)):
            ranges.append([m.start(), m.end()])
    return ranges
