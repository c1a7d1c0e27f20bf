"""One limiter for all CPU-heavy work of the local engine, shared by every session.

Inference, VAD and large resampling run in worker threads, at most ``tokens`` at a time (one per
CTranslate2 worker). Partials are optional: :meth:`Compute.has_spare` lets a session skip a partial
when starting it would leave nothing free for a final or a VAD step. Under load partial updates thin
out first; finals only queue, they are never dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

T = TypeVar("T")


class Compute:
    """A capacity limiter over worker threads, with a reserve kept back from optional work."""

    def __init__(self, tokens: int) -> None:
        self.tokens = tokens
        self.reserve = 1 if tokens > 1 else 0
        self._limiter = anyio.CapacityLimiter(tokens)
        self.busy_seconds = 0.0

    async def run(self, func: Callable[[], T]) -> T:
        """Run ``func()`` in a worker thread once a token is free; counts its busy time."""

        def timed() -> T:
            started = time.perf_counter()
            try:
                return func()
            finally:
                self.busy_seconds += time.perf_counter() - started

        return await anyio.to_thread.run_sync(timed, limiter=self._limiter)

    def has_spare(self) -> bool:
        """True when optional work may start without using the reserved token."""
        return self._limiter.available_tokens > self.reserve
