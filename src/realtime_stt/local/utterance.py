"""The pieces a local session is built from: its options, its utterances and its audio buffer."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

import anyio
import numpy as np
import numpy.typing as npt

from realtime_stt.engine.protocol import Final, WordTiming
from realtime_stt.local.agreement import LocalAgreement
from realtime_stt.local.decoder import SAMPLE_RATE, Decoded, DecodeOptions

Audio = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class StreamingOptions:
    """Streaming knobs of the local engine.

    Attributes:
        final: decode options for finals (beam search).
        partial: decode options for partials (greedy).
        partial_interval_s: audio between two partial decodes of one utterance.
        vad_threshold: Silero speech probability that counts as speech.
        min_silence_ms: silence that ends an utterance.
        vad_sustained_ms: this long a run of frames just under ``vad_threshold`` (within
            0.15) also opens an utterance (short words in telephone-band audio); 0 turns it off.
        speech_pad_ms: audio kept before the first and after the last speech frame.
        max_utterance_s: an utterance this long is cut at its quietest point in the last
            seconds, and both parts are decoded.
        speculate_after_ms: after this much silence (less than ``min_silence_ms``) the final is
            queued for decoding ahead of the confirmed end; if the end is then confirmed at the
            same place the result is used, so a final arrives sooner. If speech resumes first,
            the guess is cancelled (at no cost while it still waits for a worker); 0 turns
            this off.
        room_s: :meth:`LocalSession.wait_for_room` holds the client back while more than this
            much pushed audio waits to be processed.
        max_backlog_s: unprocessed audio beyond this ends the session (``engine_overloaded``);
            only a client shell that ignores ``wait_for_room`` can get there.
        block_s: the VAD's step; boundaries are acted on between blocks.
    """

    final: DecodeOptions = field(default_factory=lambda: DecodeOptions(beam_size=5))
    partial: DecodeOptions = field(
        default_factory=lambda: DecodeOptions(beam_size=1, recover=False)
    )
    partial_interval_s: float = 0.6
    vad_threshold: float = 0.5
    min_silence_ms: int = 400
    vad_sustained_ms: int = 256
    speech_pad_ms: int = 200
    max_utterance_s: float = 20.0
    speculate_after_ms: int = 100
    room_s: float = 5.0
    max_backlog_s: float = 120.0
    block_s: float = 0.25


@dataclass(slots=True)
class Speculation:
    """A final decoded ahead of a probable end (see ``StreamingOptions.speculate_after_ms``)."""

    utterance: Utterance
    end: int
    done: asyncio.Event = field(default_factory=asyncio.Event)
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    result: Decoded | None = None


@dataclass(slots=True)
class Utterance:
    """An utterance of a stream: its segment, first sample and when its next partial is due."""

    segment_id: int
    start: int
    partial_due: int
    agreement: LocalAgreement = field(default_factory=LocalAgreement)

    def final(self, result: Decoded, end: int) -> Final:
        """The final event for ``result``, covering this utterance's samples up to ``end``."""
        offset = self.start / SAMPLE_RATE
        timings = tuple(
            WordTiming(w.word.strip(), offset + w.start_s, offset + w.end_s) for w in result.words
        )
        return Final(self.segment_id, result.text, offset, end / SAMPLE_RATE, timings)


class AudioBuffer:
    """The recent audio of a stream, addressed by absolute sample index."""

    def __init__(self) -> None:
        self._blocks: deque[Audio] = deque()
        self.base = 0
        self.end = 0

    def append(self, block: Audio) -> None:
        self._blocks.append(block)
        self.end += block.size

    def slice(self, start: int, stop: int) -> Audio:
        start, stop = max(start, self.base), min(stop, self.end)
        if stop <= start:
            return np.zeros(0, dtype=np.float32)
        joined = np.concatenate(list(self._blocks)) if len(self._blocks) > 1 else self._blocks[0]
        return joined[start - self.base : stop - self.base]

    def trim_before(self, sample: int) -> None:
        while self._blocks and self.base + self._blocks[0].size <= sample:
            self.base += self._blocks.popleft().size
