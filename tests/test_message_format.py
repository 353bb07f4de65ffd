"""The message renderer: each construct of the subset, and hostile input, which must come
out as text with only the allowed tags and attributes and only http(s)/mailto links."""

from __future__ import annotations

import time
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hallway.domain.message_format import (
    ALLOWED_TAGS,
    OFF_LOOP_CHARS,
    render_body,
    render_body_off_loop,
)


class _Tags(HTMLParser):
    """Every start tag of a piece of HTML with its attributes, and its text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        self.tags.append(("!--", {}))

    def handle_decl(self, decl: str) -> None:
        self.tags.append(("!", {}))

    def handle_pi(self, data: str) -> None:
        self.tags.append(("?", {}))

    def unknown_decl(self, data: str) -> None:
        self.tags.append(("![", {}))


def parsed(html: str) -> _Tags:
    tags = _Tags()
    tags.feed(html)
    tags.close()
    return tags


def assert_safe(html: str) -> None:
    """Only allowed tags and attributes; links only to http(s) and mailto, with rel."""
    for tag, attrs in parsed(html).tags:
        assert tag in ALLOWED_TAGS, (tag, html)
        assert set(attrs) <= ALLOWED_TAGS[tag], (tag, attrs, html)
        if tag == "a":
            href = attrs["href"] or ""
            assert href.lower().startswith(("http://", "https://", "mailto:")), href
            assert attrs["rel"] == "noopener noreferrer" and attrs["target"] == "_blank"
        if tag == "code" and "class" in attrs:
            assert (attrs["class"] or "").startswith("language-")
        if tag == "ol" and "start" in attrs:
            assert (attrs["start"] or "").isdigit()


def links(html: str) -> list[str]:
    return [attrs["href"] or "" for tag, attrs in parsed(html).tags if tag == "a"]


def text_of(html: str) -> str:
    return "".join(parsed(html).text).strip()


# --- the subset ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "html"),
    [
        ("hello", "<p>hello</p>\n"),
        ("**bold**", "<p><strong>bold</strong></p>\n"),
        ("__bold__", "<p><strong>bold</strong></p>\n"),
        ("*italic* and _italic_", "<p><em>italic</em> and <em>italic</em></p>\n"),
        ("~~gone~~", "<p><s>gone</s></p>\n"),
        ("run `ls -l` now", "<p>run <code>ls -l</code> now</p>\n"),
        ("one\ntwo", "<p>one<br>\ntwo</p>\n"),
        ("one\n\ntwo", "<p>one</p>\n<p>two</p>\n"),
        ("> quoted\n> still", "<blockquote>\n<p>quoted<br>\nstill</p>\n</blockquote>\n"),
        ("- a\n- b", "<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n"),
        ("* a\n+ b", "<ul>\n<li>a</li>\n</ul>\n<ul>\n<li>b</li>\n</ul>\n"),
        ("1. a\n2. b", "<ol>\n<li>a</li>\n<li>b</li>\n</ol>\n"),
        ("3) c", '<ol start="3">\n<li>c</li>\n</ol>\n'),
        (
            "```python\nif a < b:\n    pass\n```",
            '<pre><code class="language-python">if a &lt; b:\n    pass\n</code></pre>\n',
        ),
        ("~~~\n**not bold**\n~~~", "<pre><code>**not bold**\n</code></pre>\n"),
        (r"\*not italic\*", "<p>*not italic*</p>\n"),
    ],
)
def test_construct(body: str, html: str) -> None:
    assert render_body(body) == html
    assert_safe(html)


def test_links_open_apart_with_rel() -> None:
    html = render_body("[docs](https://example.com/a?b=1&c=2)")
    assert html == (
        '<p><a href="https://example.com/a?b=1&amp;c=2" target="_blank"'
        ' rel="noopener noreferrer">docs</a></p>\n'
    )


@pytest.mark.parametrize(
    ("body", "href", "text"),
    [
        ("see https://example.com/x", "https://example.com/x", "see https://example.com/x"),
        ("http://example.com.", "http://example.com", "http://example.com."),
        ("(https://example.com/a_(b))", "https://example.com/a_(b)", None),
        ("(https://example.com/a)", "https://example.com/a", None),
        ("www.example.com/path", "http://www.example.com/path", None),
        ("HTTPS://EXAMPLE.COM", "HTTPS://EXAMPLE.COM", None),
        ("http://localhost:8000/x", "http://localhost:8000/x", None),
        ("<https://example.com>", "https://example.com", "https://example.com"),
        ("<ada@example.com>", "mailto:ada@example.com", "ada@example.com"),
        ("[write](mailto:ada@example.com)", "mailto:ada@example.com", "write"),
        ("**https://example.com**", "https://example.com", None),
    ],
)
def test_bare_and_auto_links(body: str, href: str, text: str | None) -> None:
    html = render_body(body)
    assert links(html) == [href]
    assert_safe(html)
    if text is not None:
        assert text_of(html) == text


@pytest.mark.parametrize(
    "body",
    [
        "`https://example.com`",
        "```\nhttps://example.com\n```",
        "xhttps://example.com",
        "example.com",
        "ftp://example.com",
        "http://",
    ],
)
def test_no_link(body: str) -> None:
    assert links(render_body(body)) == []


def test_a_link_inside_a_link_is_not_doubled() -> None:
    html = render_body("[https://a.example](https://b.example)")
    assert links(html) == ["https://b.example"]


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ("# Heading", "# Heading"),
        ("| a | b |\n|---|---|\n| 1 | 2 |", "| a | b |\n|---|---|\n| 1 | 2 |"),
        ("a\n\n---\n\nb", "a\n---\nb"),
        ("![cat](https://example.com/cat.png)", "!cat"),
        ("[ref]\n\n[ref]: https://example.com", "[ref]\n[ref]: https://example.com"),
        ("    indented", "indented"),
    ],
)
def test_not_in_the_subset_is_text(body: str, text: str) -> None:
    html = render_body(body)
    assert_safe(html)
    assert text_of(html).replace("\n\n", "\n").strip() == text
    assert "<img" not in html and "<h1" not in html and "<table" not in html


def test_an_image_is_never_an_img() -> None:
    html = render_body("![x](https://example.com/y.png)")
    assert "<img" not in html
    assert_safe(html)


@pytest.mark.parametrize("body", ["", "   ", "\n\n"])
def test_empty(body: str) -> None:
    assert render_body(body) == ""


# --- hostile input --------------------------------------------------------------------------

HOSTILE = [
    "<script>window.pwned = 1</script>",
    "<img src=x onerror=alert(1)>",
    "<div><p><b onmouseover=alert(1)>nested</b></p></div>",
    "<a href='javascript:alert(1)'>x</a>",
    "<iframe src=https://example.com></iframe>",
    "<!-- comment --><![CDATA[x]]><?pi?>",
    "<svg><script>alert(1)</script></svg>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x]( javascript:alert(1) )",
    "[x](java\nscript:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](&#x6A;avascript&#58;alert(1))",
    "[x](javascript&colon;alert(1))",
    "[x](%6Aavascript:alert(1))",
    "[x](data:text/html,<script>alert(1)</script>)",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](vbscript:msgbox(1))",
    "[x](file:///etc/passwd)",
    "[x](/relative) [y](#fragment) [z](//evil.example)",
    '[x](https://example.com "title" onclick="alert(1)")',
    "[x](<javascript:alert(1)>)",
    "<javascript:alert(1)>",
    "<JAVASCRIPT:alert(1)>",
    "<data:text/html,x>",
    "javascript:alert(1)",
    "[x]: javascript:alert(1)\n\n[x]",
    "![x](javascript:alert(1))",
    '![x](https://example.com/a.png" onerror="alert(1))',
    '```"><script>alert(1)</script>\ncode\n```',
    "`<script>alert(1)</script>`",
    'https://example.com/"onmouseover=alert(1)',
    "https://example.com/<script>",
    "www.example.com'\"><script>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "\\<script>alert(1)\\</script>",
    "**<script>**alert(1)",
    "> <script>alert(1)</script>\n- <img src=x onerror=alert(1)>",
]


@pytest.mark.parametrize("body", HOSTILE)
def test_hostile_input_stays_text(body: str) -> None:
    html = render_body(body)
    assert_safe(html)
    for _, attrs in parsed(html).tags:
        assert not any(name.startswith("on") for name in attrs)
    assert "<script" not in html.lower() and "<img" not in html.lower()


@pytest.mark.parametrize(
    "body",
    [
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](&#106;avascript:alert(1))",
        "[x](data:text/html,<script>alert(1)</script>)",
        "<javascript:alert(1)>",
    ],
)
def test_a_refused_link_shows_its_source(body: str) -> None:
    html = render_body(body)
    assert links(html) == []
    assert "alert(1)" in text_of(html)


@pytest.mark.parametrize(
    "body",
    [
        ">" * 10_000,
        "> " * 5_000,
        "*" * 10_000,
        "*a" * 5_000,
        "- " * 5_000,
        "1. " * 3_333,
        "[" * 10_000,
        "[a](" * 2_500,
        "`" * 10_000,
        "<" * 10_000,
        "_a " * 3_333,
        "~~a" * 3_333,
        "**" * 2_500 + "a" + "**" * 2_500,
        "> - " * 2_500,
        "https://example.com/" + "(" * 9_980,
        "https://example.com/" + ")" * 9_980,
        "https://example.com/" + "&amp;" * 1_990,
        "www." * 2_500,
    ],
)
def test_huge_nesting_finishes_quickly(body: str) -> None:
    started = time.perf_counter()
    html = render_body(body)
    assert time.perf_counter() - started < 2.0
    assert_safe(html)


def test_content_past_the_nesting_limit_is_shown_as_text() -> None:
    body = "> " * 40 + "still here"
    html = render_body(body)
    assert "still here" in text_of(html)
    assert "<blockquote>" not in html


def test_the_longest_body() -> None:
    body = ("**word** https://example.com/x `code` ~~s~~\n> q\n- item\n" * 200)[:10_000]
    assert len(body) == 10_000
    started = time.perf_counter()
    html = render_body(body)
    assert time.perf_counter() - started < 2.0
    assert_safe(html)
    assert html.count("<strong>") > 150


@pytest.mark.anyio
@pytest.mark.parametrize("body", ["**x** " * 400, "[" * 5_000, "plain words " * 200, "short *x*"])
async def test_off_the_loop_is_the_same_html(body: str) -> None:
    """A long body that needs the parser is rendered on a worker thread: the same HTML."""
    assert await render_body_off_loop(body) == render_body(body)


def test_the_off_loop_examples_are_long() -> None:
    assert len("**x** " * 400) >= OFF_LOOP_CHARS


_MARKDOWNISH = st.lists(
    st.sampled_from([*"ab c\n\t>-+*_~`[]()<>!&#;:/.\\\"'=|01 ", "https://", "www.", "javascript:"]),
    max_size=80,
).map("".join)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=200), _MARKDOWNISH))
def test_any_text_gives_only_allowed_tags(body: str) -> None:
    assert_safe(render_body(body))


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=120), _MARKDOWNISH))
def test_the_fast_path_is_what_the_parser_makes(body: str) -> None:
    """A body without anything Markdown reads skips the parser: the same HTML either way."""
    from hallway.domain import message_format

    if not body.strip():
        return
    full = message_format.render_with_parser(body)
    assert render_body(body) == full
