"""Synthetic test audio and the fake server's signal checks (24 kHz PCM16 unless told otherwise).

Tests speak in tones: :func:`tone` makes one, and the fake server "transcribes" an utterance by its
dominant frequency (:func:`dominant_frequency`). Audio recorded at 16 kHz but declared 24 kHz plays
1.5x too fast, so a 440 Hz tone comes out as 660 Hz and the transcript says so.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

RATE = 24_000
FRAME = RATE // 100
Samples = npt.NDArray[np.int16]


def tone(freq_hz: float, seconds: float, *, rate: int = RATE, amplitude: float = 0.3) -> bytes:
    """A sine tone as PCM16 LE bytes, with 5 ms fades so it starts and ends cleanly."""
    n = round(seconds * rate)
    t = np.arange(n) / rate
    wave = amplitude * np.sin(2 * np.pi * freq_hz * t)
    fade = min(n // 2, rate // 200)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        wave[:fade] *= ramp
        wave[n - fade :] *= ramp[::-1]
    return (wave * 32767).astype("<i2").tobytes()


def silence(seconds: float, *, rate: int = RATE) -> bytes:
    """Digital silence as PCM16 bytes."""
    return bytes(2 * round(seconds * rate))


def samples(pcm: bytes) -> Samples:
    """PCM16 LE bytes as an int16 array."""
    return np.frombuffer(pcm, dtype="<i2")


def frame_levels(audio: Samples) -> npt.NDArray[np.float64]:
    """RMS (full scale 1.0) of each whole 10 ms frame of ``audio``, in one numpy call."""
    usable = audio[: audio.size - audio.size % FRAME].reshape(-1, FRAME).astype(np.float64)
    levels: npt.NDArray[np.float64] = np.sqrt(np.einsum("ij,ij->i", usable, usable) / FRAME)
    return levels / 32768.0


def voiced(audio: Samples, threshold: float) -> Samples:
    """The 10 ms frames of ``audio`` whose RMS reaches ``threshold``, concatenated."""
    usable = audio[: audio.size - audio.size % FRAME].reshape(-1, FRAME)
    voiced_frames: Samples = usable[frame_levels(audio) >= threshold].reshape(-1)
    return voiced_frames


def dominant_frequency(audio: Samples, *, rate: int = RATE) -> float | None:
    """The strongest frequency in ``audio`` (Hann window, zero padding, parabolic peak), or None."""
    if audio.size < rate // 20:
        return None
    x = audio.astype(np.float64) * np.hanning(audio.size)
    size = 1 << (4 * audio.size - 1).bit_length()
    spectrum = np.abs(np.fft.rfft(x, size))
    peak = int(np.argmax(spectrum[1:-1])) + 1
    left, mid, right = spectrum[peak - 1], spectrum[peak], spectrum[peak + 1]
    denominator = left - 2 * mid + right
    shift = 0.5 * (left - right) / denominator if denominator else 0.0
    return float((peak + shift) * rate / size)
