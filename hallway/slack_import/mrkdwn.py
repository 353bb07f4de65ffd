"""Slack's message text ("mrkdwn") as Hallway's plain text.

Slack writes references between angle brackets: `<@U123>` a person, `<#C123|general>` a
channel, `<!here>` a broadcast, `<http://x|label>` a link, and escapes `&`, `<` and `>`
as entities. Hallway's bodies are plain text, so each becomes what a reader would see:
`@Display Name`, `#general`, `@here`, `label (http://x)`. Emphasis marks (`*bold*`) are
left as they are: they read the same as text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_REFERENCE = re.compile(r"<([^<>\n]+)>")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


def _label(body: str) -> tuple[str, str | None]:
    target, _, label = body.partition("|")
    return target, (label or None)


def render(text: str, people: Mapping[str, str], channels: Mapping[str, str]) -> str:
    """`people`: Slack user id to display name; `channels`: channel id to name."""
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
            if command in ("here", "channel", "everyone"):
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
