"""One local streaming session: commands in, engine events out (see ``local.engine``).

Commands (audio, flush, end) queue in order and one task consumes them, so a flush or an end always
applies to exactly the audio pushed before it. Audio is scored by the VAD in blocks of at most
``block_s`` seconds; each block's boundaries are handled before the next block is scored.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from functools import partial

import numpy as np

from realtime_stt.engine.protocol import (
    EngineError,
    Partial,
    SpeechStarted,
)
from realtime_stt.engine.running import BaseSession
from realtime_stt.local.compute import Compute
from realtime_stt.local.decoder import Decoded, DecodeRequest, UtteranceDecoder
from realtime_stt.local.endpointer import Endpointer, UtteranceStart
from realtime_stt.local.recovery import quietest_point
from realtime_stt.local.utterance import (
    Audio,
    AudioBuffer,
    Speculation,
    StreamingOptions,
    Utterance,
)
from realtime_stt.local.vad import FRAME, StreamingVad

log = logging.getLogger(__name__)
SAMPLE_RATE = 16_000
CUT_SEARCH_S = 4.0
"""An utterance at the length limit is cut at the quietest point of its last seconds."""
PAUSE_FRAMES = 3
"""No partial starts after this many silent VAD frames (0.1 s): a pause brings no new words, and
the worker is kept for the final that is probably coming."""


class _Flush:
    pass


class _End:
    pass


class LocalSession(BaseSession):
    """Implements ``EngineSession`` for the local engine; run it inside :meth:`running`."""

    def __init__(self, decoder: UtteranceDecoder, compute: Compute, options: StreamingOptions):
        super().__init__(sample_rate=SAMPLE_RATE, event_buffer=64)
        self._decoder = decoder
        self._compute = compute
        self._options = options
        self._commands: deque[Audio | _Flush | _End] = deque()
        self._wake = asyncio.Event()
        self._audio = AudioBuffer()
        self._vad = StreamingVad()
        self._endpointer = Endpointer(
            threshold=options.vad_threshold,
            min_silence_ms=options.min_silence_ms,
            pad_ms=options.speech_pad_ms,
            sustained_ms=options.vad_sustained_ms,
        )
        self._utterance: Utterance | None = None
        self._speculation: Speculation | None = None
        self._context = ""
        self._next_segment = 0
        self._partial_running = False
        self._ended = False
        self._backlog = 0

    # -- EngineSession -----------------------------------------------------------------------

    def push_audio(self, pcm: bytes) -> None:
        """Queue PCM16 audio at 16 kHz; ignored after :meth:`end_input`."""
        if self._ended or not pcm:
            return
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / np.float32(32768.0)
        self._sink.pushed += samples.size
        self._backlog += samples.size
        if self._backlog > self._options.room_s * SAMPLE_RATE:
            self._room.clear()
        self._commands.append(samples)
        self._wake.set()

    def flush(self) -> None:
        """Finalize the utterance in progress once the audio before this call is scored."""
        if not self._ended:
            self._commands.append(_Flush())
            self._wake.set()

    def end_input(self) -> None:
        """Finish: the last utterance is finalized and the event stream ends."""
        if not self._ended:
            self._ended = True
            self._commands.append(_End())
            self._wake.set()

    # -- the session task --------------------------------------------------------------------

    async def _drive(self) -> None:
        """Consume the commands in order until the end's final is out."""
        limit = int(self._options.max_backlog_s * SAMPLE_RATE)
        while True:
            while not self._commands:
                self._wake.clear()
                await self._wake.wait()
            if self._backlog > limit:
                message = "audio arrives faster than it can be transcribed"
                await self._sink.emit(EngineError("engine_overloaded", message, fatal=True))
                return
            command = self._commands.popleft()
            if isinstance(command, np.ndarray):
                self._backlog -= command.size
                if self._backlog <= self._options.room_s * SAMPLE_RATE:
                    self._room.set()
                await self._consume_audio(command)
            elif isinstance(command, _Flush):
                await self._finalize(self._audio.end)
                self._endpointer.reset()
            else:
                await self._finalize(self._audio.end)
                return

    async def _consume_audio(self, samples: Audio) -> None:
        block = max(512, int(self._options.block_s * SAMPLE_RATE))
        for offset in range(0, samples.size, block):
            chunk = samples[offset : offset + block]
            probs = await self._compute.light(partial(self._vad.process, chunk))
            self._audio.append(chunk)
            for boundary in self._endpointer.feed(probs):
                if isinstance(boundary, UtteranceStart):
                    await self._open(boundary.sample)
                else:
                    await self._finalize(boundary.sample)
            utterance = self._utterance
            max_samples = int(self._options.max_utterance_s * SAMPLE_RATE)
            if utterance is not None and self._audio.end - utterance.start >= max_samples:
                await self._cut(utterance)
            self._maybe_speculate()
            self._maybe_start_partial()
            keep = self._utterance.start if self._utterance else self._audio.end - 2 * SAMPLE_RATE
            self._audio.trim_before(keep)

    async def _open(self, start: int) -> None:
        interval = int(self._options.partial_interval_s * SAMPLE_RATE)
        utterance = Utterance(self._next_segment, start, start + interval)
        self._next_segment += 1
        self._utterance = utterance
        await self._sink.emit(SpeechStarted(utterance.segment_id, start / SAMPLE_RATE))

    async def _finalize(self, end: int) -> None:
        utterance, self._utterance = self._utterance, None
        if utterance is None:
            return
        speculation, self._speculation = self._speculation, None
        result = None
        if speculation and speculation.utterance is utterance and speculation.end == end:
            await speculation.done.wait()
            result = speculation.result
        elif speculation:
            speculation.scope.cancel()
        if result is None:
            result = await self._decode_final(self._audio.slice(utterance.start, end))
        self._context = result.text or self._context
        await self._sink.emit(utterance.final(result, end))

    async def _cut(self, utterance: Utterance) -> None:
        """Finalize an utterance that reached ``max_utterance_s`` at its quietest point near
        the limit; the audio after the cut opens the next utterance, decoded in turn (unless
        the speech ended before the cut: then the next speech opens one anew)."""
        end = self._audio.end
        search = int(CUT_SEARCH_S * SAMPLE_RATE)
        audio = self._audio.slice(utterance.start, end)
        cut = utterance.start + quietest_point(audio, max(0, audio.size - search))
        result = await self._decode_final(self._audio.slice(utterance.start, cut))
        await self._sink.emit(utterance.final(result, cut))
        self._context = ""  # mid-sentence context makes Whisper skip the words after a cut
        self._utterance = None
        speech_end = self._endpointer.last_speech_end()
        if speech_end is not None and speech_end > cut:
            await self._open(cut)
        else:
            self._endpointer.reset()

    def _maybe_speculate(self) -> None:
        utterance, pending = self._utterance, self._endpointer.pending_end()
        current = self._speculation
        if current is not None and (
            current.utterance is not utterance or pending is None or current.end != pending[1]
        ):
            current.scope.cancel()  # speech went on: the guess is stale (free if still queued)
            self._speculation = current = None
        after_ms = self._options.speculate_after_ms
        if utterance is None or pending is None or self._tasks is None or not after_ms:
            return
        silent_frames, end = pending
        if current is not None or silent_frames * FRAME * 1000 / SAMPLE_RATE < after_ms:
            return
        speculation = Speculation(utterance, end)
        self._speculation = speculation
        # the padding after the last speech frame may not all be here yet (slice stops at the
        # audio's end): it is silence, and the decoder appends seconds of silence anyway
        audio = self._audio.slice(utterance.start, end)
        self._tasks.start_soon(self._speculate, speculation, audio)

    async def _speculate(self, speculation: Speculation, audio: Audio) -> None:
        try:
            with speculation.scope:
                speculation.result = await self._decode_final(audio)
        except Exception:
            log.exception("speculative final failed; the final will be decoded again")
        finally:
            speculation.done.set()

    async def _decode_final(self, audio: Audio) -> Decoded:
        decoder, options = self._decoder, self._options.final

        def run(requests: Sequence[DecodeRequest]) -> list[Decoded]:
            return decoder.decode_batch(requests, options, words=True)

        request = DecodeRequest(audio, self._context)
        return await self._compute.batched((decoder, options), request, run)

    def _maybe_start_partial(self) -> None:
        utterance = self._utterance
        if utterance is None or self._partial_running or self._tasks is None:
            return
        if self._audio.end < utterance.partial_due or not self._compute.has_spare():
            return
        pending = self._endpointer.pending_end()
        if pending is not None and pending[0] >= PAUSE_FRAMES:
            return
        self._partial_running = True
        utterance.partial_due = self._audio.end + int(
            self._options.partial_interval_s * SAMPLE_RATE
        )
        self._tasks.start_soon(self._partial, utterance, self._audio.end)

    async def _partial(self, utterance: Utterance, end: int) -> None:
        audio = self._audio.slice(utterance.start, end)
        decode = self._decoder.decode
        options, context = self._options.partial, self._context

        def run() -> Decoded:
            return decode(audio, options, words=False, context=context)

        try:
            result = await self._compute.infer(run)
        except Exception:
            # A partial is optional; the final of this utterance will report a lasting fault.
            log.exception("partial decode failed")
            return
        finally:
            self._partial_running = False
        if self._utterance is not utterance or not result.text:
            return
        text = utterance.agreement.update(result.text)
        event = Partial(
            utterance.segment_id, text, utterance.start / SAMPLE_RATE, end / SAMPLE_RATE
        )
        await self._sink.emit(event)  # dropped if the consumer is behind
