"""Streaming Silero VAD on 16 kHz audio, with the ONNX model this package ships.

The model file (``realtime_stt/assets/silero_vad_v6.onnx``, its licences in ``assets/NOTICE``)
is the one faster-whisper 1.2.1 ships, carried here so that installs without the ``local``
extra have it. faster-whisper's own ``SileroVADModel`` scores a whole recording in one call.
:class:`StreamingVad` feeds the same ONNX model frame by frame, carrying the LSTM state and the
64-sample context across calls, so a stream cut into chunks of any size scores exactly as the
whole recording would. Calls block for about 0.1 ms per 32-ms frame: run
:meth:`StreamingVad.process` off the loop.

This module imports neither faster-whisper nor CTranslate2 and runs the model with onnxruntime
directly, so the OpenAI engine's endpointer uses it in the slim install too.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FRAME = 512
"""Samples per VAD frame (32 ms at 16 kHz)."""
SAMPLE_RATE = 16_000
"""The only rate the model is scored at here."""
_CONTEXT = 64
_MODEL_FILE = "silero_vad_v6.onnx"


def model_path() -> Path:
    """The Silero ONNX file shipped in this package's ``assets`` (package data).

    Raises:
        RuntimeError: the file is missing (an install that left out the package data).
    """
    path = Path(str(resources.files("realtime_stt") / "assets" / _MODEL_FILE))
    if not path.is_file():
        msg = f"the Silero VAD model is missing from this install: {path}"
        raise RuntimeError(msg)
    return path


@lru_cache(maxsize=1)
def vad_model() -> Any:
    """The process's one ONNX session of the model (single-threaded; thread-safe to run)."""
    import onnxruntime  # noqa: PLC0415 - loaded once, on first use

    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    options.enable_cpu_mem_arena = False
    options.log_severity_level = 4
    return onnxruntime.InferenceSession(
        str(model_path()), providers=["CPUExecutionProvider"], sess_options=options
    )


class StreamingVad:
    """Speech probabilities for consecutive 512-sample frames of one stream."""

    def __init__(self) -> None:
        self._session: Any = vad_model()
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)
        self._leftover = np.zeros(0, dtype=np.float32)

    @property
    def pending(self) -> int:
        """Samples received that do not make a whole frame yet."""
        return int(self._leftover.size)

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
