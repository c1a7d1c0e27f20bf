"""LocalAgreement for partials: words two consecutive decodes agree on stay fixed.

Each partial decode of the growing utterance gives a word list. The longest common prefix of the
last two lists (compared without case or punctuation) is *confirmed*; confirmed words never change
again within the utterance, and only the tail after them may. This keeps live text from flickering.
"""

from __future__ import annotations

import re

_NORMALISE = re.compile(r"[^\w]+")


def _key(word: str) -> str:
    return _NORMALISE.sub("", word.lower())


class LocalAgreement:
    """Stabilises the partial hypotheses of one utterance."""

    def __init__(self) -> None:
        self.confirmed: list[str] = []
        self._previous: list[str] = []

    def update(self, hypothesis: str) -> str:
        """Take a new decode of the utterance so far; return the text to show."""
        words = hypothesis.split()
        agreed = 0
        limit = min(len(words), len(self._previous))
        while agreed < limit and _key(words[agreed]) == _key(self._previous[agreed]):
            agreed += 1
        fixed = len(self.confirmed)
        if agreed > fixed and all(
            _key(a) == _key(b) for a, b in zip(words[:fixed], self.confirmed, strict=False)
        ):
            self.confirmed = words[:agreed]
        self._previous = words
        tail = words[len(self.confirmed) :]
        return " ".join([*self.confirmed, *tail])
