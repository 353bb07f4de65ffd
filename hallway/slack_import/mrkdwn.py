"""Slack's message text ("mrkdwn") as a Hallway body (Markdown, hallway/domain/message_format.py).

Slack writes references between angle brackets: `<@U123>` a person, `<#C123|general>` a
channel, `<!here>` a broadcast, `<http://x|label>` a link, and escapes `&`, `<` and `>`
as entities. Each becomes what a reader saw: `@Display Name`, `#general`, `@here`,
`label (http://x)`; `mentioned` lists the people and broadcasts a text references.

Emphasis is written differently: Slack's `*bold*` and `~strike~` are Hallway's `**bold**`
and `~~strike~~` (`_italic_` is italic in both). A mark counts as Slack counts it: it opens
at the start of the text or after a character that is not a letter or digit, is followed by
a character that is not a space, and closes on the same line after one that is not a space,
before the end of the text or a character that is not a letter or digit. So `2*3*4`,
`a * b`, `snake_case_name` and `file_name_here.txt` stay as they are. A run of one mark
(`**`, `~~`) opens and closes nothing: it is Markdown already. Code (```fenced``` or
`inline`) is left untouched, and a reference counts as one character that is neither, so
its address is never changed and `*<@U1>*` is a bold mention.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_REFERENCE = re.compile(r"<([^<>\n]+)>")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))
BROADCASTS = ("here", "channel", "everyone")

# What emphasis never looks inside: code (a fence first, which may span lines), references.
_OPAQUE = re.compile(r"```.*?```|`[^`\n]+`|<[^<>\n]+>", re.DOTALL)
_ATOM = "\ufffc"  # stands for an opaque part: not a letter, digit, space or mark
# Slack's mark: Hallway's.
_EMPHASIS = {"*": "**", "~": "~~"}


@dataclass(frozen=True, slots=True)
class Mentioned:
    """Who a text references: Slack user ids (`<@U123>`) and broadcasts (`<!here>`)."""

    people: frozenset[str]
    broadcasts: frozenset[str]


NOBODY = Mentioned(frozenset(), frozenset())


def _label(body: str) -> tuple[str, str | None]:
    target, _, label = body.partition("|")
    return target, (label or None)


def render(text: str, people: Mapping[str, str], channels: Mapping[str, str]) -> str:
    """`people`: Slack user id to display name; `channels`: channel id to name."""
    if "*" in text or "~" in text:
        text = emphasis(text)
    if "<" not in text and "&" not in text:
        return text  # most messages: nothing to render

    def reference(match: re.Match[str]) -> str:
        target, label = _label(match.group(1))
        if target.startswith("@"):
            name = people.get(target[1:]) or label or target[1:]
            return f"@{name.removeprefix('@')}"
        if target.startswith("#"):
            name = channels.get(target[1:]) or label or target[1:]
            return f"#{name.removeprefix('#')}"
        if target.startswith("!"):
            command = target[1:]
            if command in BROADCASTS:
                return f"@{command}"
            # <!subteam^S123|@team>, <!date^1392734382^{date}|Feb 18, 2014>
            return label or f"@{command.split('^', 1)[0]}"
        if label is None or label == target:
            return target.removeprefix("mailto:")
        if target.removeprefix("mailto:") == label:
            return label
        return f"{label} ({target})"

    rendered = _REFERENCE.sub(reference, text)
    for entity, character in _ENTITIES:
        rendered = rendered.replace(entity, character)
    return rendered


def mentioned(text: str) -> Mentioned:
    """The people and broadcasts the text references (what render shows as `@…`)."""
    if "<@" not in text and "<!" not in text:
        return NOBODY
    people: set[str] = set()
    broadcasts: set[str] = set()
    for match in _REFERENCE.finditer(text):
        target, _ = _label(match.group(1))
        if target.startswith("@") and len(target) > 1:
            people.add(target[1:])
        elif target.startswith("!") and target[1:] in BROADCASTS:
            broadcasts.add(target[1:])
    return Mentioned(frozenset(people), frozenset(broadcasts))


def emphasis(text: str) -> str:
    """The text with Slack's `*bold*` and `~strike~` as Markdown's `**bold**` and
    `~~strike~~` (module docstring), everything else as it was."""
    # A copy of the same length with each opaque part blanked out, in which to find marks:
    # positions in it are positions in the text.
    shadow = _OPAQUE.sub(lambda m: _ATOM * len(m.group()), text)
    doubled: list[int] = []
    for mark in _EMPHASIS:
        doubled += _pairs(shadow, mark)
    if not doubled:
        return text
    parts = []
    done = 0
    for at in sorted(doubled):
        parts += [text[done:at], _EMPHASIS[text[at]]]
        done = at + 1
    parts.append(text[done:])
    return "".join(parts)


def _pairs(shadow: str, mark: str) -> list[int]:
    """Positions of the marks that open and close emphasis in the shadow text."""
    found: list[int] = []
    at = shadow.find(mark)
    while at != -1:
        close = _close(shadow, mark, at) if _opens(shadow, mark, at) else -1
        if close == -1:
            at = shadow.find(mark, at + 1)
        else:
            found += [at, close]
            at = shadow.find(mark, close + 1)
    return found


def _opens(shadow: str, mark: str, at: int) -> bool:
    before = shadow[at - 1] if at > 0 else " "
    after = shadow[at + 1] if at + 1 < len(shadow) else " "
    return not before.isalnum() and before != mark and not after.isspace() and after != mark


def _close(shadow: str, mark: str, opened: int) -> int:
    """Where the emphasis opened at `opened` closes on its line, or -1."""
    line_end = shadow.find("\n", opened)
    end = len(shadow) if line_end == -1 else line_end
    at = shadow.find(mark, opened + 2, end)  # never empty
    while at != -1:
        before = shadow[at - 1]
        after = shadow[at + 1] if at + 1 < len(shadow) else " "
        if not before.isspace() and before != mark and not after.isalnum() and after != mark:
            return at
        at = shadow.find(mark, at + 1, end)
    return -1
