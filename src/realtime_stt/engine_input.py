"""Audio on its way into one engine session: resampled to the engine's rate, recorded, pushed.

The client's audio arrives at the rate it chose; the engine takes its declared
``input_sample_rate``. :class:`EngineInput` keeps one resampler per session (its filter state
carries across chunks), resamples chunks over :data:`OFF_LOOP_SAMPLES` in a worker thread so a
long frame does not hold the event loop, records every chunk it pushes in the ``engine-chunks``
debug buffer, and at the end pushes what the resampler still holds.
"""

from __future__ import annotations

import anyio.to_thread

from realtime_stt.audio import Int16Array, StreamResampler
from realtime_stt.debug_log import SessionDebug
from realtime_stt.engine.protocol import EngineSession

OFF_LOOP_SAMPLES = 16_000
"""Chunks longer than this are resampled in a worker thread rather than on the event loop."""


class EngineInput:
    """Feeds one :class:`EngineSession` with client audio at ``in_rate``."""

    def __init__(
        self, stream: EngineSession, in_rate: int, out_rate: int, debug: SessionDebug
    ) -> None:
        self._stream = stream
        self._resampler = StreamResampler(in_rate, out_rate)
        self._debug = debug

    async def push(self, samples: Int16Array) -> None:
        """Resample ``samples`` (PCM16 at the client's rate) and push them to the engine."""
        resampler = self._resampler
        if samples.size > OFF_LOOP_SAMPLES and resampler.in_rate != resampler.out_rate:
            converted = await anyio.to_thread.run_sync(resampler.process, samples)
        else:
            converted = resampler.process(samples)
        self._push(converted)

    def flush(self) -> None:
        """Ask the engine to finalize the utterance in progress."""
        self._stream.flush()

    def end(self) -> None:
        """No more audio: push the resampler's tail, then end the engine's input."""
        self._push(self._resampler.finish())
        self._stream.end_input()

    def _push(self, samples: Int16Array) -> None:
        if samples.size == 0:
            return
        self._debug.engine_chunk(samples, self._resampler.out_rate)
        self._stream.push_audio(samples.astype("<i2", copy=False).tobytes())
