"""Slack's reaction names (`thumbsup`, `+1::skin-tone-3`) as Unicode emoji.

The names are Slack's short codes, which are mostly the aliases the `emoji` package knows
(GitHub's and Slack's); a few of Slack's own are added here. A name that is neither is one
of the workspace's custom emoji (images Hallway does not have): None.
"""

from __future__ import annotations

from functools import cache

from hallway.domain.reactions import is_emoji

# Slack's skin tones 2..6 are Unicode's five Fitzpatrick modifiers.
_SKIN_TONES = {f"skin-tone-{n}": chr(0x1F3FB + n - 2) for n in range(2, 7)}
# Slack's names that the emoji package's aliases lack.
_SLACK_ONLY = {
    "simple_smile": "🙂",
    "slightly_smiling_face": "🙂",
    "white_frowning_face": "☹️",
    "thinking_face": "🤔",
    "upside_down_face": "🙃",
    "hugging_face": "🤗",
    "face_with_rolling_eyes": "🙄",
    "party_popper": "🎉",
}


@cache
def _base(name: str) -> str | None:
    if name in _SLACK_ONLY:
        return _SLACK_ONLY[name]
    # Imported on first use: its list holds megabytes (see hallway.domain.reactions).
    import emoji

    found = emoji.emojize(f":{name}:", language="alias")
    return None if found == f":{name}:" else found


def unicode_emoji(name: str) -> str | None:
    """The emoji Slack's reaction `name` shows, or None for a custom one."""
    base, _, tone = name.partition("::")
    found = _base(base)
    if found is None:
        return None
    if tone:
        modifier = _SKIN_TONES.get(tone)
        if modifier is None:
            return None
        toned = found.replace("\ufe0f", "") + modifier
        # Not every emoji takes a skin tone: then the plain one.
        found = toned if is_emoji(toned) else found
    return found if is_emoji(found) else None
