"""Client-commit turns (sans-I/O): our endpointer decides which audio goes upstream, and when.

Used when upstream's turn detection is off (``turn_detection: null``, which the streaming models
require). :class:`TurnPlanner` takes the session's audio, already resampled to 24 kHz, with the
Silero speech probability of each 32-ms frame of the 16-kHz original, and returns decisions:

* :class:`Open`: speech confirmed; turn ``segment`` starts ``speech_pad_ms`` before it.
* :class:`Send`: append audio ``[start, stop)`` (24 kHz session samples) upstream.
* :class:`Commit`: commit the turn; its audio ends at ``end``.

Only audio inside a turn is sent: from ``speech_pad_ms`` before its first speech frame to
``speech_pad_ms`` after its last. Audio past that is held while the speaker pauses, sent if speech
resumes within ``commit_silence_ms`` (a pause inside the turn), and never sent otherwise: the
turn is committed, and silence between turns costs nothing upstream (streaming models bill every
appended second). The held audio is also the pre-roll of the next turn, so no onset is lost.

A turn is cut at a pause between words in the last 2 s before ``max_utterance_s`` (at the
limit if there is none): what was sent is committed, and the next turn starts right after it.
:meth:`TurnPlanner.flush` (and :meth:`finish`) commit the turn in progress at once,
including speech too short to have been confirmed yet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from realtime_stt.local.endpointer import Endpointer, UtteranceEnd, UtteranceStart
from realtime_stt.local.vad import FRAME
from realtime_stt.local.vad import SAMPLE_RATE as VAD_RATE

RATE = 24_000
"""Session positions are samples at upstream's rate."""
_UP = RATE // 1000
_DOWN = VAD_RATE // 1000
FRAME24 = FRAME * _UP // _DOWN
"""One VAD frame (32 ms) in 24-kHz samples."""


def to24(sample16: int) -> int:
    """A 16-kHz sample position as a 24-kHz one."""
    return sample16 * _UP // _DOWN


@dataclass(frozen=True, slots=True)
class Open:
    """Turn ``segment`` starts at ``start`` (24 kHz), ``start_s`` seconds into the session."""

    segment: int
    start: int
    start_s: float


@dataclass(frozen=True, slots=True)
class Send:
    """Append session audio ``[start, stop)`` (24 kHz samples)."""

    start: int
    stop: int


@dataclass(frozen=True, slots=True)
class Commit:
    """Commit turn ``segment``: its audio ends at ``end`` (24 kHz), ``end_s`` seconds in."""

    segment: int
    end: int
    end_s: float


Decision = Open | Send | Commit


@dataclass(slots=True)
class _Turn:
    segment: int
    start: int


class TurnPlanner:
    """Turns of one session from its scored audio; see the module docstring."""

    def __init__(
        self,
        *,
        threshold: float,
        commit_silence_ms: int,
        speech_pad_ms: int,
        max_utterance_s: float,
        min_speech_ms: int = 160,
    ) -> None:
        self._endpointer = Endpointer(
            threshold=threshold,
            min_silence_ms=commit_silence_ms,
            pad_ms=speech_pad_ms,
            min_speech_ms=min_speech_ms,
            sample_rate=VAD_RATE,
        )
        self._pad = speech_pad_ms * _UP
        self._max = int(max_utterance_s * RATE)
        self._turn: _Turn | None = None
        self._next_segment = 0
        self.sent_to = 0
        """Audio before this is sent or skipped for good."""
        self.available = 0
        """24-kHz samples received so far."""

    @property
    def in_turn(self) -> bool:
        """Whether a turn is open (its commit is still to come)."""
        return self._turn is not None

    @property
    def scored_s(self) -> float:
        """Seconds of audio the VAD has scored."""
        return self._endpointer.frames_seen * FRAME / VAD_RATE

    def feed(self, samples24: int, probs: npt.NDArray[np.float32]) -> list[Decision]:
        """``samples24`` more samples arrived, and these frames were scored; the decisions."""
        self.available += samples24
        decisions: list[Decision] = []
        for boundary in self._endpointer.feed(probs):
            if isinstance(boundary, UtteranceStart):
                self._open(to24(boundary.sample), decisions)
            elif isinstance(boundary, UtteranceEnd) and self._turn is not None:
                self._commit(to24(boundary.sample), decisions)
        if self._cut_due(probs):
            self._cut(probs, decisions)
        elif self._turn is not None:
            self._send_to(self._speech_limit(), decisions)
        return decisions

    def flush(self) -> list[Decision]:
        """Commit the turn in progress now (a candidate too short to confirm counts as one)."""
        decisions: list[Decision] = []
        if self._turn is None:
            candidate = self._endpointer.candidate_start()
            if candidate is None:
                return decisions
            self._open(to24(candidate), decisions)
        self._commit(min(self.available, self._speech_limit()), decisions)
        self._endpointer.reset()
        return decisions

    def finish(self) -> list[Decision]:
        """End of input: like :meth:`flush`."""
        return self.flush()

    # -- internals -----------------------------------------------------------------------------

    def _open(self, start: int, decisions: list[Decision]) -> None:
        start = max(start, self.sent_to)
        self._turn = _Turn(self._next_segment, start)
        self._next_segment += 1
        self.sent_to = start
        decisions.append(Open(self._turn.segment, start, start / RATE))

    def _commit(self, end: int, decisions: list[Decision]) -> None:
        turn = self._turn
        if turn is None:
            return
        end = max(end, turn.start)
        self._send_to(end, decisions)
        decisions.append(Commit(turn.segment, end, end / RATE))
        self.sent_to = max(self.sent_to, end)
        self._turn = None

    def _cut_due(self, probs: npt.NDArray[np.float32]) -> bool:
        """A turn at ``max_utterance_s``, or within 2 s of it and in a pause between words."""
        if self._turn is None:
            return False
        length = self._endpointer.frames_seen * FRAME24 - self._turn.start
        return length >= self._max or (self._in_pause(probs) and length >= self._max - 2 * RATE)

    def _in_pause(self, probs: npt.NDArray[np.float32]) -> bool:
        return probs.size > 0 and float(probs[-1]) < self._endpointer.neg_threshold

    def _cut(self, probs: npt.NDArray[np.float32], decisions: list[Decision]) -> None:
        """Commit everything sent so far. In a pause, the next speech opens the next turn as
        usual; mid-word (at the hard limit), the next turn opens right after the cut."""
        self._send_to(self._speech_limit(), decisions)
        cut = self.sent_to
        self._commit(cut, decisions)
        if self._in_pause(probs):
            self._endpointer.reset()
        else:
            self._open(cut, decisions)

    def _speech_limit(self) -> int:
        last = self._endpointer.last_speech_end()
        limit = to24(last) + self._pad if last is not None else 0
        return min(self.available, limit)

    def _send_to(self, stop: int, decisions: list[Decision]) -> None:
        stop = min(stop, self.available)
        if stop > self.sent_to:
            decisions.append(Send(self.sent_to, stop))
            self.sent_to = stop
