"""The event stream of an engine session: bounded, with a drop policy and clamped times.

Partials that do not fit in the buffer are dropped (a newer partial or the final follows); every
other event waits for room, which in turn pauses the session's work (reading from upstream,
decoding). Times are clamped to the audio pushed so far (the protocol's bound), because an
engine may run past it: silence padded before a last commit, a pause's padding.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import replace

from realtime_stt.engine.protocol import EngineEvent, Final, Partial, SpeechStarted

log = logging.getLogger(__name__)


class EventSink:
    """The event stream of one session: :meth:`emit` on the session side, iterate on the other.

    A deque and two asyncio events rather than an anyio memory stream: anyio yields to the event
    loop on every send and every receive, and under load each yield is a whole loop iteration
    that a final waits for. Here an event that can be queued or taken at once never yields.
    """

    def __init__(self, size: int, sample_rate: int) -> None:
        """``size`` events are buffered; :attr:`pushed` counts samples at ``sample_rate``."""
        self._size = size
        self._rate = sample_rate
        self._events: deque[EngineEvent] = deque()
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        self._ended = False
        self._closed = False
        self.pushed = 0
        """Samples the client pushed so far; the upper bound for event times."""

    def __aiter__(self) -> AsyncIterator[EngineEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[EngineEvent]:
        while not self._closed:
            if self._events:
                event = self._events.popleft()
                self._writable.set()
                yield event
            elif self._ended:
                return
            else:
                self._readable.clear()
                await self._readable.wait()

    async def emit(self, event: EngineEvent) -> None:
        """Deliver ``event`` (a partial only if there is room)."""
        event = _clamp(event, self.pushed / self._rate)
        while len(self._events) >= self._size and not self._closed:
            if isinstance(event, Partial):
                log.debug("partial for segment %d dropped", event.segment_id)
                return
            self._writable.clear()
            await self._writable.wait()
        if self._closed or self._ended:
            log.debug("engine event dropped: the consumer has gone")
            return
        self._events.append(event)
        self._readable.set()

    async def emit_all(self, events: Iterable[EngineEvent]) -> None:
        """Deliver ``events`` in order."""
        for event in events:
            await self.emit(event)

    def end(self) -> None:
        """No more events: the consumer's iteration stops once the buffer is drained."""
        self._ended = True
        self._readable.set()

    def close(self) -> None:
        """Release both ends (the session context is over): waiting emits return, and
        iteration stops."""
        self._closed = True
        self._readable.set()
        self._writable.set()


def _clamp(event: EngineEvent, limit: float) -> EngineEvent:
    if isinstance(event, Partial | Final) and event.end_s > limit:
        return replace(event, start_s=min(event.start_s, limit), end_s=limit)
    if isinstance(event, SpeechStarted) and event.start_s > limit:
        return replace(event, start_s=limit)
    return event
