"""An energy-based stand-in for upstream's server VAD (sans-I/O, 24 kHz, 10 ms frames).

A frame whose RMS reaches ``threshold`` is speech. Speech starts at the first speech frame, reported
``prefix_padding_ms`` earlier (never before the last commit); it stops once ``silence_duration_ms``
of non-speech frames follow, reported at the end of that silence, as upstream does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from openai.types.realtime import RealtimeTranscriptionSessionAudioInputTurnDetection

from .audio import FRAME, Samples, frame_levels


@dataclass(frozen=True, slots=True)
class VadStart:
    """Speech started at ``sample`` (prefix padding included)."""

    sample: int


@dataclass(frozen=True, slots=True)
class VadStop:
    """Speech stopped at ``sample`` (trailing silence included)."""

    sample: int


class EnergyVad:
    """Feed samples, get :class:`VadStart`/:class:`VadStop` with connection sample positions."""

    def __init__(
        self,
        *,
        prefix_padding_ms: int,
        silence_duration_ms: int,
        threshold: float = 0.02,
        start_at: int = 0,
    ) -> None:
        self.prefix = 0
        self.silence_needed = 0
        self.configure(prefix_padding_ms=prefix_padding_ms, silence_duration_ms=silence_duration_ms)
        self.threshold = threshold
        self.in_speech = False
        self._rest = np.zeros(0, dtype=np.int16)
        self._position = start_at
        self._silence = 0
        self._floor = start_at

    @classmethod
    def for_detection(
        cls,
        detection: RealtimeTranscriptionSessionAudioInputTurnDetection | None,
        current: EnergyVad | None,
        *,
        threshold: float,
        start_at: int,
    ) -> EnergyVad | None:
        """The VAD a ``turn_detection`` setting asks for: ``current`` reconfigured, or a new one.

        ``None`` (turn detection off) gives no VAD; ``semantic_vad`` is treated as server VAD with
        upstream's defaults (300 ms padding, 500 ms silence).
        """
        if detection is None:
            return None
        prefix = getattr(detection, "prefix_padding_ms", None)
        silence = getattr(detection, "silence_duration_ms", None)
        prefix_ms = 300 if prefix is None else prefix
        silence_ms = 500 if silence is None else silence
        if current is None:
            return cls(
                prefix_padding_ms=prefix_ms,
                silence_duration_ms=silence_ms,
                threshold=threshold,
                start_at=start_at,
            )
        current.configure(prefix_padding_ms=prefix_ms, silence_duration_ms=silence_ms)
        return current

    def configure(self, *, prefix_padding_ms: int, silence_duration_ms: int) -> None:
        """Change the padding and the silence that ends speech (a ``session.update``)."""
        self.prefix = prefix_padding_ms * FRAME // 10
        self.silence_needed = silence_duration_ms * FRAME // 10

    def feed(self, audio: Samples) -> list[VadStart | VadStop]:
        """Process ``audio``; complete 10 ms frames are judged, the rest waits for more."""
        events: list[VadStart | VadStop] = []
        data = np.concatenate([self._rest, audio])
        whole = data.size - data.size % FRAME
        loud = (frame_levels(data[:whole]) >= self.threshold).tolist()
        for index, speech in enumerate(loud):
            start = self._position + index * FRAME
            if speech and not self.in_speech:
                self.in_speech = True
                self._silence = 0
                events.append(VadStart(max(self._floor, start - self.prefix)))
            elif speech:
                self._silence = 0
            elif self.in_speech:
                self._silence += FRAME
                if self._silence >= self.silence_needed:
                    self.in_speech = False
                    self._floor = start + FRAME
                    events.append(VadStop(start + FRAME))
        self._rest = data[whole:]
        self._position += whole
        return events

    def reset(self, at: int) -> None:
        """The buffer was committed or cleared up to ``at``: any speech in progress ends there."""
        self.in_speech = False
        self._silence = 0
        self._floor = at
