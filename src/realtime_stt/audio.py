"""PCM16 helpers: sample framing across chunk boundaries, streaming resampling, audio levels."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import soxr

Int16Array = npt.NDArray[np.int16]
FULL_SCALE = 32768.0


class SampleFramer:
    """Turns byte chunks of any length into whole PCM16 samples.

    A chunk boundary may split a sample: an odd trailing byte is kept and joined to the next chunk,
    so any chunking of the same byte stream yields the same samples.
    """

    def __init__(self) -> None:
        self._carry = b""

    @property
    def pending_byte(self) -> bool:
        """True while half a sample waits for the next chunk."""
        return bool(self._carry)

    def feed(self, chunk: bytes) -> Int16Array:
        """Return the whole samples completed by ``chunk`` (possibly none)."""
        data = self._carry + chunk if self._carry else chunk
        whole = len(data) - len(data) % 2
        self._carry = data[whole:]
        return np.frombuffer(data if whole == len(data) else data[:whole], dtype="<i2")


class StreamResampler:
    """A stateful soxr resampler for PCM16 that keeps its filter state across chunks.

    Resampling each chunk on its own would click at every boundary and drift in length; this keeps
    one ``soxr.ResampleStream`` per stream. :meth:`finish` drains the filter's tail at end of input.
    """

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._stream = (
            None
            if in_rate == out_rate
            else soxr.ResampleStream(in_rate, out_rate, 1, dtype="int16", quality="HQ")
        )

    def process(self, samples: Int16Array) -> Int16Array:
        """Resample the next chunk; output may lag input by the filter delay."""
        if self._stream is None:
            return samples
        out: Int16Array = self._stream.resample_chunk(samples, last=False)
        return out

    def finish(self) -> Int16Array:
        """Flush what the filter still holds; call once after the last chunk."""
        if self._stream is None:
            return np.zeros(0, dtype=np.int16)
        out: Int16Array = self._stream.resample_chunk(np.zeros(0, dtype=np.int16), last=True)
        return out


@dataclass(frozen=True, slots=True)
class Level:
    """The loudness of a chunk: RMS in dBFS (-inf for digital silence) and peak in [0, 1]."""

    rms_dbfs: float
    peak: float


def level(samples: Int16Array) -> Level:
    """Measure ``samples``; an empty chunk is silence."""
    if samples.size == 0:
        return Level(-math.inf, 0.0)
    wide = samples.astype(np.int64)  # one integer dot product: this runs for every chunk
    rms = math.sqrt(float(np.dot(wide, wide)) / samples.size) / FULL_SCALE
    peak = max(-int(wide.min()), int(wide.max())) / FULL_SCALE
    return Level(20 * math.log10(rms) if rms > 0 else -math.inf, peak)


def to_float(samples: Int16Array) -> npt.NDArray[np.float32]:
    """PCM16 to float32 in [-1, 1), the form the models take."""
    return samples.astype(np.float32) / np.float32(FULL_SCALE)
