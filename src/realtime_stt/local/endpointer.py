"""Utterance boundaries from per-frame speech probabilities (sans-I/O).

:class:`Endpointer` consumes Silero probabilities, one per 512-sample frame, and reports where
utterances start and end, in samples from the start of the stream:

- a start is *confirmed* once ``min_speech_frames`` speech frames have been seen since the first
  one, with no ``min_silence`` gap in between; it is placed ``pad`` samples before that first frame;
- an end is reported after ``min_silence`` of non-speech (probability under ``threshold - 0.15``),
  placed ``pad`` samples after the last speech frame.

A lone click or breath shorter than ``min_speech_frames`` never opens an utterance, so silence and
short noises produce no text at all.

With ``sustained_ms``, a start is also confirmed by that many *consecutive* frames at or above
``threshold - 0.15`` (placed at the first of them), and such a run counts as speech for the
end: a short word whose sounds score only in that band, as fricatives do in telephone-band
(8-kHz) audio where Silero misses their high frequencies, still opens an utterance. It is off
(0) unless asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from realtime_stt.local.vad import FRAME


@dataclass(frozen=True, slots=True)
class UtteranceStart:
    """Speech confirmed; the utterance begins at ``sample``."""

    sample: int


@dataclass(frozen=True, slots=True)
class UtteranceEnd:
    """Silence confirmed; the utterance ended at ``sample``."""

    sample: int


Boundary = UtteranceStart | UtteranceEnd


class Endpointer:
    """Speech/silence state machine over VAD frames."""

    def __init__(
        self,
        *,
        threshold: float,
        min_silence_ms: int,
        pad_ms: int,
        min_speech_ms: int = 160,
        sample_rate: int = 16_000,
        sustained_ms: int = 0,
    ) -> None:
        self.threshold = threshold
        self.neg_threshold = max(threshold - 0.15, 0.01)
        frame_ms = FRAME * 1000 / sample_rate
        self.min_silence_frames = max(1, round(min_silence_ms / frame_ms))
        self.min_speech_frames = max(1, round(min_speech_ms / frame_ms))
        self.sustained_frames = round(sustained_ms / frame_ms) if sustained_ms > 0 else 0
        self.pad = pad_ms * sample_rate // 1000
        self.frames_seen = 0
        self.in_speech = False
        self._candidate: int | None = None
        self._speech_frames = 0
        self._last_speech: int | None = None
        self._run = 0

    def reset(self) -> None:
        """Forget any speech in progress (after a forced final); the next speech opens anew."""
        self.in_speech = False
        self._candidate = None
        self._speech_frames = 0
        self._last_speech = None
        self._run = 0

    def pending_end(self) -> tuple[int, int] | None:
        """While in speech: (frames since the last speech frame, the end an end would report).

        Lets a caller start work on an utterance that is probably over before the end is
        confirmed; the reported end stays the same as long as no speech frame comes in between.
        It may lie a little past the audio seen so far (by at most the padding).
        """
        if not self.in_speech or self._last_speech is None:
            return None
        silent = self.frames_seen - 1 - self._last_speech
        last = self._last_speech
        end = min((last + 1) * FRAME + self.pad, (last + self.min_silence_frames + 1) * FRAME)
        return silent, end

    def candidate_start(self) -> int | None:
        """Where unconfirmed speech would start (padding included), if speech frames were seen
        since the last silence but too few to confirm an utterance; ``None`` otherwise."""
        if self.in_speech or self._candidate is None:
            return None
        return max(0, self._candidate * FRAME - self.pad)

    def last_speech_end(self) -> int | None:
        """One past the last speech frame seen, in samples (``None`` before any)."""
        return None if self._last_speech is None else (self._last_speech + 1) * FRAME

    def feed(self, probs: npt.NDArray[np.float32]) -> list[Boundary]:
        """Consume the probabilities of the next frames; return the boundaries they confirm."""
        found: list[Boundary] = []
        for prob in probs.tolist():
            frame = self.frames_seen
            self.frames_seen += 1
            self._run = self._run + 1 if prob >= self.neg_threshold else 0
            sustained = 0 < self.sustained_frames <= self._run
            if prob >= self.threshold or sustained:
                self._on_speech(frame, found, sustained=sustained)
            elif prob < self.neg_threshold or not self.in_speech:
                self._on_silence(frame, found)
        return found

    def _on_speech(self, frame: int, found: list[Boundary], *, sustained: bool = False) -> None:
        self._last_speech = frame
        if self.in_speech:
            return
        if self._candidate is None:
            self._candidate, self._speech_frames = frame, 0
        self._speech_frames += 1
        if sustained:
            self._candidate = min(self._candidate, frame - self._run + 1)
        if sustained or self._speech_frames >= self.min_speech_frames:
            self.in_speech = True
            found.append(UtteranceStart(max(0, self._candidate * FRAME - self.pad)))

    def _on_silence(self, frame: int, found: list[Boundary]) -> None:
        if self._last_speech is None or frame - self._last_speech < self.min_silence_frames:
            return
        if self.in_speech:
            end = min((self._last_speech + 1) * FRAME + self.pad, (frame + 1) * FRAME)
            found.append(UtteranceEnd(end))
        self.reset()
