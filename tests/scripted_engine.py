"""A scripted engine for the service's tests: no model, events chosen by the test.

Each session answers its first audio with ``partials`` partials of segment 0 at once; ``end_input``
yields segment 0's final (if speech was heard) and ends the stream. With ``stalled`` its
``wait_for_room`` never returns, as an engine that stopped working would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from realtime_stt.engine.protocol import (
    EngineCapabilities,
    EngineEvent,
    Final,
    Partial,
    SessionConfig,
    SpeechStarted,
)


@dataclass
class ScriptedSession:
    """One session of :class:`ScriptedEngine`."""

    partials: int
    stalled: bool
    heard_s: float = 0.0
    _events: asyncio.Queue[EngineEvent | None] = field(default_factory=asyncio.Queue)
    _started: bool = False

    def push_audio(self, pcm: bytes) -> None:
        """Count the audio; the first chunk starts segment 0 and its burst of partials."""
        self.heard_s += len(pcm) / 2 / 16_000
        if not self._started:
            self._started = True
            self._events.put_nowait(SpeechStarted(0, 0.0))
            for index in range(self.partials):
                self._events.put_nowait(Partial(0, f"guess {index}", 0.0, self.heard_s))

    async def wait_for_room(self) -> None:
        """Room at once, or never when stalled."""
        if self.stalled:
            await asyncio.Event().wait()

    def flush(self) -> None:
        """Nothing to finalize early."""

    def end_input(self) -> None:
        """Close segment 0 (if it began) and end the stream."""
        if self._started:
            self._events.put_nowait(Final(0, "scripted final", 0.0, self.heard_s))
        self._events.put_nowait(None)

    async def __aiter__(self) -> AsyncIterator[EngineEvent]:
        """The scripted events, until ``end_input``."""
        while (event := await self._events.get()) is not None:
            yield event


@dataclass
class ScriptedEngine:
    """Implements ``TranscriptionEngine`` with :class:`ScriptedSession` sessions."""

    partials: int = 0
    stalled: bool = False
    name: str = "scripted"
    model: str = "script"
    ready: bool = False
    capabilities: EngineCapabilities = field(
        default_factory=lambda: EngineCapabilities(
            16_000, interim_results=True, word_timestamps=False
        )
    )

    async def start(self) -> None:
        """Ready at once."""
        self.ready = True

    async def aclose(self) -> None:
        """Nothing to release."""

    @asynccontextmanager
    async def open_session(self, config: SessionConfig) -> AsyncIterator[ScriptedSession]:
        """A new scripted session."""
        yield ScriptedSession(self.partials, self.stalled)
