"""A message's body as HTML: a small Markdown subset, rendered safely on the server.

The subset: **bold**, *italic* (or _italic_), ~~strike~~, `inline code`, fenced code
blocks, > block quotes, - and 1. lists, [links](https://…), <https://…> and <a@b.c>
autolinks, and bare http(s):// and www. addresses. A newline is a line break (chat
writing, not CommonMark's soft break). Everything else is text: headings, tables,
horizontal rules, images (`![x](y)` is a `!` and a link), link reference definitions,
indented code, and raw HTML, which markdown-it-py escapes since its `html` option is off
and its HTML rules are not enabled.

A link survives only with an absolute http, https or mailto address (`_SafeMarkdown`
.validateLink, which markdown-it-py asks after decoding the address's entities and escapes);
any other link (javascript:, data:, vbscript:, relative) stays its source text. Every link
opens in a new tab with `rel="noopener noreferrer"`.

So the output has only these tags and attributes (ALLOWED_TAGS), and every text and
attribute value in it is escaped by markdown-it-py's renderer: the web client may put it
into the page as HTML.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

ALLOWED_TAGS: dict[str, frozenset[str]] = {
    "p": frozenset(),
    "br": frozenset(),
    "strong": frozenset(),
    "em": frozenset(),
    "s": frozenset(),
    "code": frozenset({"class"}),  # a fence's language: class="language-<word>"
    "pre": frozenset(),
    "blockquote": frozenset(),
    "ul": frozenset(),
    "ol": frozenset({"start"}),
    "li": frozenset(),
    "a": frozenset({"href", "rel", "target"}),
}
"""Every tag render_body may produce, with the attributes it may carry."""

_SAFE_LINK = re.compile(r"^(?:https?://|mailto:)", re.IGNORECASE)

_MAX_NESTING = 20
"""Quotes and lists nested deeper than this (and emphasis) are not parsed further.
markdown-it-py drops a block's content past its nesting limit; such a body is shown as
plain text instead (_nesting_guard)."""

_BARE_URL = re.compile(
    # At the start or after a space or an opening mark, as GitHub's extended autolinks.
    r"(?:^|(?<=[\s*_~(]))"
    r"(?:https?://|www\.)"
    r"[\w-]+(?:\.[\w-]+)*"  # the domain
    r"(?::\d{1,5})?"  # a port
    r"(?:[/?#][^\s<]*)?",  # the rest, trimmed below
    re.IGNORECASE,
)
_TRAILING_PUNCTUATION = "?!.,:*_~'\""
_TRAILING_ENTITY = re.compile(r"&[A-Za-z0-9]+;$")

_NEEDS_PARSER = re.compile(
    r"[\\`*_~\[<\r\0]"  # escapes, code, emphasis, strike, links, autolinks; odd line ends
    r"|://|www\."  # bare addresses
    r"|^(?:[-+>]|\d{1,9}[.)])"  # a quote or a list item
    r"|^\s|\s$",  # blank lines and lines with surrounding space (paragraphs, breaks)
    re.MULTILINE | re.IGNORECASE,
)
"""What in a body could make the parser's output differ from the plain form (_plain)."""


class _SafeMarkdown(MarkdownIt):
    def validateLink(self, url: str) -> bool:
        """Only absolute http(s) and mailto links. markdown-it-py has decoded the address's
        entities and escapes and percent-encoded it (normalizeLink) before asking."""
        return _SAFE_LINK.match(url) is not None


def _new_parser() -> MarkdownIt:
    md = _SafeMarkdown(
        "zero", {"html": False, "breaks": True, "typographer": False, "maxNesting": _MAX_NESTING}
    )
    md.enable(
        [
            # block
            "fence",
            "blockquote",
            "list",
            # inline
            "newline",
            "escape",
            "backticks",
            "strikethrough",
            "emphasis",
            "link",
            "autolink",
        ]
    )
    md.block.ruler.before("fence", "nesting_guard", _nesting_guard)
    md.core.ruler.push("bare_urls_and_link_attributes", _bare_urls_and_link_attributes)
    return md


def _nesting_guard(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    """Notes a block at the nesting limit, past which markdown-it-py drops the rest; the
    body is then shown as plain text. Never takes the block itself."""
    if state.level >= _MAX_NESTING - 1:
        state.env["too_deep"] = True
    return False


def _bare_urls_and_link_attributes(state: StateCore) -> None:
    """Bare http(s):// and www. addresses in text become links (not inside a link or
    code), and every link gets target and rel."""
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        children: list[Token] = []
        in_link = 0
        for token in block.children:
            if token.type == "link_open":
                in_link += 1
                children.append(_with_link_attributes(token))
            elif token.type == "link_close":
                in_link -= 1
                children.append(token)
            elif token.type == "text" and not in_link:
                children.extend(_linkified(state.md, token))
            else:
                children.append(token)
        block.children = children


def _with_link_attributes(token: Token) -> Token:
    token.attrSet("target", "_blank")
    token.attrSet("rel", "noopener noreferrer")
    return token


def _linkified(md: MarkdownIt, token: Token) -> Sequence[Token]:
    """A text token, split around the bare addresses in it."""
    text = token.content
    if "://" not in text and "www." not in text.lower():
        return [token]
    parts: list[Token] = []
    done = 0
    for match in _BARE_URL.finditer(text):
        url = _trimmed(match.group())
        address = url if "://" in url else f"http://{url}"
        href = md.normalizeLink(address)
        if not md.validateLink(href):
            continue
        start = match.start()
        if start > done:
            parts.append(_text(text[done:start], token.level))
        link = Token("link_open", "a", 1, level=token.level, markup="linkify", info="auto")
        link.attrSet("href", href)
        parts += [
            _with_link_attributes(link),
            _text(url, token.level + 1),  # as written (the renderer escapes it)
            Token("link_close", "a", -1, level=token.level, markup="linkify", info="auto"),
        ]
        done = start + len(url)
    if not parts:
        return [token]
    if done < len(text):
        parts.append(_text(text[done:], token.level))
    return parts


def _trimmed(url: str) -> str:
    """An address without what GitHub's autolinks leave out at its end: punctuation, an
    unbalanced closing parenthesis, an entity-like `&name;`."""
    while url:
        unbalanced = url[-1] == ")" and url.count(")") > url.count("(")
        if url[-1] in _TRAILING_PUNCTUATION or unbalanced:
            url = url[:-1]
        elif url[-1] == ";" and (entity := _TRAILING_ENTITY.search(url)):
            url = url[: entity.start()]
        else:
            return url
    return url


def _text(content: str, level: int) -> Token:
    return Token("text", "", 0, content=content, level=level)


_parser = _new_parser()


def render_body(body: str) -> str:
    """The body as safe HTML (module docstring); "" for an empty body."""
    if not body.strip():
        return ""
    if _NEEDS_PARSER.search(body) is None:
        return _plain(body)
    return render_with_parser(body)


OFF_LOOP_CHARS = 1_000
"""A body at least this long that needs the parser is rendered on a worker thread."""


async def render_body_off_loop(body: str) -> str:
    """render_body for a request's body. The parser's time grows with the body, and a hostile
    one (thousands of `[` or `*`) is its slowest case: a long body that needs the parser is
    rendered on a worker thread, so the event loop keeps serving sockets meanwhile (the
    interpreter switches between the two threads)."""
    if len(body) < OFF_LOOP_CHARS or _NEEDS_PARSER.search(body) is None:
        return render_body(body)
    return await asyncio.to_thread(render_body, body)


def render_with_parser(body: str) -> str:
    """render_body without its shortcut for plain text (for tests and the benchmark)."""
    env: dict[str, Any] = {}
    tokens = _parser.parse(body, env)
    if env.get("too_deep"):
        return _plain(body)
    rendered: str = _parser.renderer.render(tokens, _parser.options, env)
    return rendered


def _plain(body: str) -> str:
    """The body as text in one paragraph, a line break for each newline: what the parser
    makes of a body without anything Markdown would read (_NEEDS_PARSER)."""
    escaped = html.escape(body, quote=False).replace('"', "&quot;")
    return "<p>" + escaped.replace("\n", "<br>\n") + "</p>\n"
