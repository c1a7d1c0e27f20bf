"""The audio a session sent upstream, addressed by session sample, kept for resending after a drop.

Samples are PCM16 (2 bytes). :meth:`AudioHistory.trim_before` releases memory lazily, a second of
audio at a time, so trimming after every append costs no copying in the common case.
"""

from __future__ import annotations

import numpy as np

from realtime_stt.openai_engine.tuning import SAMPLE_RATE

_TRIM_STEP = SAMPLE_RATE
_FRAME = SAMPLE_RATE // 100


class AudioHistory:
    """A window ``[base, end)`` of session samples."""

    def __init__(self) -> None:
        self._data = bytearray()
        self.base = 0

    @property
    def end(self) -> int:
        """One past the last sample appended (= samples sent upstream so far)."""
        return self.base + len(self._data) // 2

    def append(self, pcm: bytes) -> None:
        """Add PCM16 audio that was just sent."""
        self._data += pcm

    def slice(self, start: int, stop: int) -> bytes:
        """Samples ``[start, stop)`` clipped to the window."""
        start, stop = max(start, self.base), min(stop, self.end)
        if stop <= start:
            return b""
        return bytes(self._data[2 * (start - self.base) : 2 * (stop - self.base)])

    def peak_rms(self, start: int, stop: int) -> float:
        """The loudest 10 ms frame RMS of samples ``[start, stop)`` (full scale 1.0)."""
        pcm = self.slice(start, stop)
        audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / np.float32(32768.0)
        if audio.size == 0:
            return 0.0
        pad = (-audio.size) % _FRAME
        frames = np.pad(audio, (0, pad)).reshape(-1, _FRAME)
        return float(np.sqrt(np.mean(frames * frames, axis=1)).max())

    def trim_before(self, sample: int) -> None:
        """Allow samples before ``sample`` to be forgotten (done once a second's worth is due)."""
        sample = min(sample, self.end)
        if sample - self.base >= _TRIM_STEP:
            del self._data[: 2 * (sample - self.base)]
            self.base = sample
