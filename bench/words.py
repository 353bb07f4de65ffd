"""Chat-like text for the search benchmark: words drawn from a Zipf vocabulary.

A few words appear in a large share of messages, most are rare, as in real conversations;
the search scenario queries words at chosen frequencies. Everything is seeded, so each run
indexes the same text.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Callable

VOCABULARY = 50_000
_CONSONANTS = "bcdfghjklmnprstvz"
_VOWELS = "aeiou"


def vocabulary(size: int = VOCABULARY, seed: int = 1) -> list[str]:
    """`size` distinct pronounceable words of 2 to 4 syllables, most frequent first."""
    rng = random.Random(seed)
    syllables = [c + v for c, v in itertools.product(_CONSONANTS, _VOWELS)]
    words: dict[str, None] = {}
    while len(words) < size:
        words["".join(rng.choices(syllables, k=rng.randint(2, 4)))] = None
    return list(words)


def body_maker(words: list[str], seed: int = 2) -> Callable[[int], str]:
    """A function of the message number giving a body of 4 to 16 words; word rank r is
    drawn with probability proportional to 1/r (Zipf's law)."""
    rng = random.Random(seed)
    cumulative = list(itertools.accumulate(1 / rank for rank in range(1, len(words) + 1)))
    total = cumulative[-1]

    def body(_number: int) -> str:
        count = rng.randint(4, 16)
        picks = (bisect.bisect(cumulative, rng.random() * total) for _ in range(count))
        return " ".join(words[min(i, len(words) - 1)] for i in picks)

    return body
