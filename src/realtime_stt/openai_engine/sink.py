"""Where a session's engine events go: a bounded stream to the consumer, with a drop policy.

Partials that do not fit in the buffer are dropped (a newer partial or the final follows); every
other event waits for room, which in turn pauses reading from upstream. Times are clamped to the
audio pushed so far, because silence padded before a last commit may run past it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import replace

import anyio

from realtime_stt.engine.protocol import EngineEvent, Final, Partial, SpeechStarted
from realtime_stt.openai_engine.tuning import SAMPLE_RATE

log = logging.getLogger(__name__)


class EventSink:
    """The event stream of one session: :meth:`emit` on the session side, iterate on the other."""

    def __init__(self, size: int) -> None:
        self._send, self._receive = anyio.create_memory_object_stream[EngineEvent](size)
        self.pushed = 0
        """Samples the client pushed so far; the upper bound for event times."""

    def __aiter__(self) -> AsyncIterator[EngineEvent]:
        return self._receive.__aiter__()

    async def emit(self, event: EngineEvent) -> None:
        """Deliver ``event`` (a partial only if there is room)."""
        event = _clamp(event, self.pushed / SAMPLE_RATE)
        try:
            if isinstance(event, Partial):
                self._send.send_nowait(event)
            else:
                await self._send.send(event)
        except anyio.WouldBlock:
            log.debug("partial for segment %d dropped", event.segment_id)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            log.debug("engine event dropped: the consumer has gone")

    async def emit_all(self, events: Iterable[EngineEvent]) -> None:
        """Deliver ``events`` in order."""
        for event in events:
            await self.emit(event)

    def end(self) -> None:
        """No more events: the consumer's iteration stops once the buffer is drained."""
        self._send.close()

    def close(self) -> None:
        """Release both ends (the session context is over)."""
        self._send.close()
        self._receive.close()


def _clamp(event: EngineEvent, limit: float) -> EngineEvent:
    if isinstance(event, Partial | Final) and event.end_s > limit:
        return replace(event, start_s=min(event.start_s, limit), end_s=limit)
    if isinstance(event, SpeechStarted) and event.start_s > limit:
        return replace(event, start_s=limit)
    return event
