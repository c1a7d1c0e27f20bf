"""Streaming Silero VAD on 16 kHz audio, using the ONNX model that faster-whisper ships.

faster-whisper's own ``SileroVADModel`` scores a whole recording in one call. :class:`StreamingVad`
feeds the same ONNX session frame by frame, carrying the LSTM state and the 64-sample context
across calls, so a stream cut into chunks of any size scores exactly as the whole recording would.
Calls block for about a millisecond per 32-ms frame: run :meth:`StreamingVad.process` off the loop.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from faster_whisper.vad import get_vad_model

FRAME = 512
"""Samples per VAD frame (32 ms at 16 kHz)."""
_CONTEXT = 64


class StreamingVad:
    """Speech probabilities for consecutive 512-sample frames of one stream."""

    def __init__(self) -> None:
        self._session: Any = get_vad_model().session
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)
        self._leftover = np.zeros(0, dtype=np.float32)

    def process(self, audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Score the whole frames completed by ``audio``; a partial frame waits for more audio."""
        data = np.concatenate([self._leftover, audio]) if self._leftover.size else audio
        whole = data.size - data.size % FRAME
        self._leftover = data[whole:].copy()
        if whole == 0:
            return np.zeros(0, dtype=np.float32)
        frames = data[:whole].reshape(-1, FRAME)
        contexts = np.concatenate([self._context[None, :], frames[:-1, -_CONTEXT:]])
        batch = np.concatenate([contexts, frames], axis=1).astype(np.float32, copy=False)
        probs, self._h, self._c = self._session.run(
            None, {"input": batch, "h": self._h, "c": self._c}
        )
        self._context = frames[-1, -_CONTEXT:].copy()
        return np.asarray(probs, dtype=np.float32).reshape(-1)
