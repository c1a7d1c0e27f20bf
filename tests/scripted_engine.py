"""The fake engine of the service's tests: the engine Protocol with scripted events and no model.

A session hears speech in a 10-ms block of audio whose peak is over :data:`VOICED_PEAK`; blocks
are counted from the session's first sample, so any chunking of the same audio gives the same
events. An utterance opens at its first voiced block (``SpeechStarted``, then a burst of
``partials`` partials), gets a partial every ``partial_every_s`` of its audio (its text's words
so far), and gets exactly one final: after ``pause_s`` of unvoiced audio, on ``flush``, or on
``end_input``. The final of utterance ``n`` says ``texts[n % len(texts)]``, spans its first to
its last voiced block, and spreads its words evenly over that span.

Every session stays in :attr:`ScriptedEngine.sessions` with the audio it was given and whether it
was closed, so a test can check what reached the engine. Options make it misbehave on purpose:
``stalled`` (never any room), ``fail_language`` (a fatal error in that language's sessions right
after their first ``SpeechStarted``); gates hold it until the test sets them: ``start_gate``
(``start``), ``end_gate`` (the end of each session's event stream).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio.to_thread
import numpy as np

from realtime_stt.engine.protocol import (
    EngineCapabilities,
    EngineError,
    EngineEvent,
    Final,
    Partial,
    SessionConfig,
    SpeechStarted,
    WordTiming,
)

SAMPLE_RATE = 16_000
BLOCK = SAMPLE_RATE // 100
"""Samples in one block that is voiced or not (10 ms)."""
VOICED_PEAK = 1_000
"""A block is speech when a sample's magnitude exceeds this (about -30 dBFS)."""


def voiced(seconds: float, frequency: float = 440.0) -> bytes:
    """A tone that the scripted engine hears as speech in every block, as PCM16 bytes."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (np.sin(2 * np.pi * frequency * t) * 8_000).astype("<i2").tobytes()


@dataclass
class _Utterance:
    segment_id: int
    start: int
    voiced_end: int
    next_partial: int
    partials_sent: int = 0


@dataclass
class ScriptedSession:
    """One session of :class:`ScriptedEngine`; implements ``EngineSession``."""

    engine: ScriptedEngine
    config: SessionConfig
    audio: bytearray = field(default_factory=bytearray)
    """Every byte pushed, in order (until ``end_input``)."""
    flushes: int = 0
    ended: bool = False
    closed: bool = False
    """Set when the engine's ``open_session`` context is left."""
    _events: asyncio.Queue[EngineEvent | None] = field(default_factory=asyncio.Queue)
    _carry: bytes = b""
    _samples: int = 0
    _next_segment: int = 0
    _utterance: _Utterance | None = None
    _failed: bool = False

    @property
    def heard_s(self) -> float:
        """Seconds of audio pushed."""
        return len(self.audio) / 2 / SAMPLE_RATE

    def push_audio(self, pcm: bytes) -> None:
        """Keep the audio and score its whole blocks; a partial block waits for the next push."""
        if self.ended or self._failed:
            return
        self.audio += pcm
        data = self._carry + pcm
        whole = len(data) // (2 * BLOCK) * 2 * BLOCK
        self._carry = data[whole:]
        for offset in range(0, whole, 2 * BLOCK):
            self._block(data[offset : offset + 2 * BLOCK])

    @property
    def has_room(self) -> bool:
        """Whether :meth:`wait_for_room` returns at once: unless the engine is ``stalled``."""
        return not self.engine.stalled

    async def wait_for_room(self) -> None:
        """Room at once, or never when the engine is ``stalled``."""
        if self.engine.stalled:
            await asyncio.Event().wait()

    def flush(self) -> None:
        """Close the utterance in progress now."""
        self.flushes += 1
        self._close()

    def end_input(self) -> None:
        """Score the last partial block, close the utterance in progress, end the stream."""
        if self.ended:
            return
        if self._carry and not self._failed:
            self._block(self._carry)
            self._carry = b""
        self.ended = True
        self._close()
        self._events.put_nowait(None)

    async def __aiter__(self) -> AsyncIterator[EngineEvent]:
        """The events, until ``end_input`` or a fatal error (and the engine's ``end_gate``)."""
        while (event := await self._events.get()) is not None:
            yield event
        if self.engine.end_gate is not None:
            await anyio.to_thread.run_sync(self.engine.end_gate.wait, abandon_on_cancel=True)

    def _block(self, block: bytes) -> None:
        samples = np.frombuffer(block, dtype="<i2")
        start, self._samples = self._samples, self._samples + samples.size
        voiced = samples.size > 0 and int(np.abs(samples.astype(np.int32)).max()) > VOICED_PEAK
        utterance = self._utterance
        if voiced and utterance is None:
            utterance = self._open(start)
            if self.config.language == self.engine.fail_language:
                self._fail()
                return
        if utterance is None:
            return
        if voiced:
            utterance.voiced_end = self._samples
        if self._samples - utterance.voiced_end >= self.engine.pause_s * SAMPLE_RATE:
            self._close()
        elif self._samples >= utterance.next_partial:
            utterance.partials_sent += 1
            utterance.next_partial += int(self.engine.partial_every_s * SAMPLE_RATE)
            words = self._text(utterance).split()[: utterance.partials_sent]
            self._put(Partial(utterance.segment_id, " ".join(words), *self._span(utterance)))

    def _open(self, start: int) -> _Utterance:
        every = int(self.engine.partial_every_s * SAMPLE_RATE)
        utterance = _Utterance(self._next_segment, start, start, start + every)
        self._next_segment += 1
        self._utterance = utterance
        self._put(SpeechStarted(utterance.segment_id, start / SAMPLE_RATE))
        span = (start / SAMPLE_RATE, (start + BLOCK) / SAMPLE_RATE)
        for index in range(self.engine.partials):
            self._put(Partial(utterance.segment_id, f"guess {index}", *span))
        return utterance

    def _close(self) -> None:
        utterance, self._utterance = self._utterance, None
        if utterance is None:
            return
        start_s, end_s = self._span(utterance)
        text = self._text(utterance)
        words = text.split()
        step = (end_s - start_s) / max(1, len(words))
        timings = tuple(
            WordTiming(word, start_s + n * step, start_s + (n + 1) * step)
            for n, word in enumerate(words)
        )
        self._put(Final(utterance.segment_id, text, start_s, end_s, timings))

    def _fail(self) -> None:
        self._failed = True
        message = f"the scripted engine fails every {self.config.language} session"
        self._put(EngineError("engine_failure", message, fatal=True))
        self._events.put_nowait(None)

    def _text(self, utterance: _Utterance) -> str:
        texts = self.engine.texts
        return texts[utterance.segment_id % len(texts)]

    @staticmethod
    def _span(utterance: _Utterance) -> tuple[float, float]:
        return utterance.start / SAMPLE_RATE, utterance.voiced_end / SAMPLE_RATE

    def _put(self, event: EngineEvent) -> None:
        self._events.put_nowait(event)


@dataclass
class ScriptedEngine:
    """Implements ``TranscriptionEngine`` with :class:`ScriptedSession` sessions."""

    texts: tuple[str, ...] = ("scripted words",)
    partials: int = 0
    """Partials each utterance opens with, at once (``guess 0``, ``guess 1``, ...)."""
    partial_every_s: float = 0.5
    pause_s: float = 0.3
    stalled: bool = False
    fail_language: str | None = None
    start_gate: threading.Event | None = None
    end_gate: threading.Event | None = None
    """When given, each session's event stream ends (after its last event) only once it is set."""
    name: str = "scripted"
    model: str = "script"
    ready: bool = False
    capabilities: EngineCapabilities = field(
        default_factory=lambda: EngineCapabilities(
            SAMPLE_RATE, interim_results=True, word_timestamps=True
        )
    )
    sessions: list[ScriptedSession] = field(default_factory=list)
    """Every session opened, oldest first."""

    async def start(self) -> None:
        """Ready at once, or once ``start_gate`` is set."""
        if self.start_gate is not None:
            await anyio.to_thread.run_sync(self.start_gate.wait, abandon_on_cancel=True)
        self.ready = True

    async def aclose(self) -> None:
        """Nothing to release."""

    @asynccontextmanager
    async def open_session(self, config: SessionConfig) -> AsyncIterator[ScriptedSession]:
        """A new scripted session, marked closed when the context is left."""
        session = ScriptedSession(self, config)
        self.sessions.append(session)
        try:
            yield session
        finally:
            session.closed = True
