"""Telling a decoded text that repeats itself from one that was said so.

Whisper decoding a short utterance followed by silence sometimes transcribes the utterance again
("It was the age of wisdom. It was the age of wisdom.") or falls into a loop ("Slit Slit Slit
Slit", "3... 2... 1... 2... 1..."). These functions find such a repeat in a word list; the
decoder then decodes the utterance another way instead of emitting it (see ``local.decoder``).

Words are compared without case or punctuation. A repeat is:

- a span of at least :data:`MIN_SPAN` words that occurs again later in the same text, or
- a shorter span repeated back to back so that at least :data:`MIN_LOOP` - 1 words repeat it.

"no, no", "no no no" or "bye bye" are therefore not repeats; "no no no no" and "agent login
agent login agent login" are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

MIN_SPAN = 4
"""Words in a span whose second occurrence anywhere in the text is a repeat."""
MIN_LOOP = 4
"""A shorter span repeated back to back is a loop once this many words, its first occurrence
included, are spoken as repeats of it: 4 times one word, 3 times two words, twice three."""
_NON_WORD = re.compile(r"[^\w]+")


def normalise(word: str) -> str:
    """The word as compared: lower case, without punctuation."""
    return _NON_WORD.sub("", word.lower())


def repeat_start(words: Sequence[str]) -> int | None:
    """Index of the first word of the first repeated occurrence, or ``None`` without a repeat.

    Everything before that index was said at most once; cutting the words there removes the
    repeat and what follows it.
    """
    keys = [normalise(w) for w in words]
    first: int | None = None
    seen: dict[tuple[str, ...], int] = {}
    for i in range(len(keys) - MIN_SPAN + 1):
        span = tuple(keys[i : i + MIN_SPAN])
        if not all(span):
            continue
        earlier = seen.setdefault(span, i)
        if earlier + MIN_SPAN <= i:  # a second occurrence that does not overlap the first
            first = i
            break
    for size in range(1, MIN_SPAN):
        loop = _loop_start(keys, size)
        if loop is not None and (first is None or loop < first):
            first = loop
    return first


def _loop_start(keys: Sequence[str], size: int) -> int | None:
    """Where a ``size``-word span starts repeating back to back, with at least
    :data:`MIN_LOOP` - 1 repeated words after its first occurrence (the index of its second
    occurrence), or ``None``."""
    times = 1 + -(-(MIN_LOOP - 1) // size)
    for i in range(len(keys) - size * times + 1):
        span = keys[i : i + size]
        if all(span) and all(
            keys[i + k * size : i + (k + 1) * size] == span for k in range(1, times)
        ):
            return i + size
    return None


def has_repeat(text: str) -> bool:
    """True when ``text`` holds a repeat (see the module docstring)."""
    return repeat_start(text.split()) is not None
