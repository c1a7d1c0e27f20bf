"""A streaming model's text for the uncommitted buffer: which words to send, and when (sans-I/O).

:class:`LiveTranscript` is fed the audio appended to the uncommitted buffer and answers the delta
pieces to send at once. Rules:

* Only voiced audio counts: 10 ms frames (aligned to the buffer's start) whose RMS reaches
  ``threshold``. With ``v`` seconds of voiced audio, ``0`` words are due while
  ``v < first_delta_s``, then ``1 + floor((v - first_delta_s) / word_s)``.
* The text is ``transcribe(voiced audio so far)``, computed only when one more word is due (so at
  most once per ``word_s`` of voiced audio, however small the appends) and the voiced audio kept
  for it has grown (``keep_s`` caps what is kept). Words are sent up to the
  number due but never the last word of the current text: it is held back until the commit.
* Deltas are append-only: new words go out only while the words already sent are still the
  current text's first words; when the text changes under them, nothing is sent until it matches
  again.
* A piece is the word, with a leading space after the item's first word, so the concatenated
  deltas equal the completed transcript.
* :meth:`LiveTranscript.commit` gives the pieces still owed for the final text and starts a new
  buffer. If the final text does not begin with the words already sent, no more pieces are owed
  (the completed transcript then carries the revision; the service's deltas cannot be taken
  back).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .audio import FRAME, RATE, Samples, frame_levels


def pieces(words: list[str], already: int) -> list[str]:
    """``words`` as delta pieces, the first of them being word number ``already`` of its item."""
    return [word if already + index == 0 else " " + word for index, word in enumerate(words)]


def split_words(text: str) -> list[str]:
    """The words of a transcript, as the deltas carry them."""
    return text.split(" ") if text else []


class LiveTranscript:
    """The streamed words of one uncommitted buffer; see the module docstring."""

    def __init__(
        self,
        transcribe: Callable[[Samples], str],
        *,
        threshold: float,
        first_delta_s: float,
        word_s: float,
        keep_s: float | None = None,
    ) -> None:
        """``transcribe`` maps voiced audio to text; ``keep_s`` (if set) keeps only the first
        ``keep_s`` seconds of voiced audio for it, bounding memory and work."""
        self.transcribe = transcribe
        self.threshold = threshold
        self.first = round(first_delta_s * RATE)
        self.step = max(1, round(word_s * RATE))
        self.keep = None if keep_s is None else round(keep_s * RATE)
        self.sent: list[str] = []
        self.voiced = 0
        self._chunks: list[Samples] = []
        self._kept = 0
        self._rest: Samples = np.zeros(0, dtype=np.int16)
        self._checked = 0
        self._cached = ""
        self._text_of = -1

    def feed(self, audio: Samples) -> list[str]:
        """Take appended audio; return the delta pieces due now (often none)."""
        data = np.concatenate([self._rest, audio]) if self._rest.size else audio
        whole = data.size - data.size % FRAME
        if whole:
            frames = data[:whole].reshape(-1, FRAME)
            loud = frames[frame_levels(data[:whole]) >= self.threshold].reshape(-1)
            self.voiced += loud.size
            room = loud.size if self.keep is None else max(0, self.keep - self._kept)
            if room and loud.size:
                self._chunks.append(loud[:room])
                self._kept += min(room, loud.size)
        self._rest = data[whole:]
        due = self.due()
        if due <= self._checked:
            return []
        self._checked = due
        words = split_words(self._text())
        if words[: len(self.sent)] != self.sent:
            return []
        new = words[len(self.sent) : min(due, len(words) - 1)]
        out = pieces(new, len(self.sent))
        self.sent += new
        return out

    def retune(self, *, first_delta_s: float) -> None:
        """Change the voiced audio before the first delta (a new ``delay``); words sent stay."""
        self.first = round(first_delta_s * RATE)

    def due(self) -> int:
        """How many words the voiced audio so far allows."""
        if self.voiced < self.first:
            return 0
        return 1 + (self.voiced - self.first) // self.step

    def commit(self, text: str) -> list[str]:
        """The pieces still owed for final ``text``; then the buffer starts afresh."""
        words = split_words(text)
        owed = words[len(self.sent) :] if words[: len(self.sent)] == self.sent else []
        out = pieces(owed, len(self.sent))
        self.clear()
        return out

    def clear(self) -> None:
        """Forget the buffer (it was committed or cleared)."""
        self.sent = []
        self.voiced = 0
        self._chunks = []
        self._kept = 0
        self._rest = np.zeros(0, dtype=np.int16)
        self._checked = 0
        self._text_of = -1

    def _text(self) -> str:
        """``transcribe`` of the kept voiced audio, reused while that audio is unchanged."""
        if self._text_of != self._kept:
            if len(self._chunks) > 1:
                self._chunks = [np.concatenate(self._chunks)]
            audio = self._chunks[0] if self._chunks else np.zeros(0, dtype=np.int16)
            self._cached = self.transcribe(audio)
            self._text_of = self._kept
        return self._cached
