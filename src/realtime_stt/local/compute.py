"""The local engine's scheduler for CPU-heavy work, shared by every session of a process.

Two lanes of worker threads:

- *inference* (Whisper decodes), at most ``workers`` at a time, one per CTranslate2 worker;
- *light* work (VAD scoring), at most ``light`` at a time. A VAD step costs about a millisecond
  per 32-ms frame; giving it its own lane means a session's end of speech is seen at once even
  while every inference worker is busy, instead of queueing behind decodes that take 0.3-0.7 s.

Partials are optional: :meth:`Compute.has_spare` lets a session skip a partial when starting it
would leave no inference worker free for a final. Under load partial updates thin out first;
finals only queue, they are never dropped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

T = TypeVar("T")


class Compute:
    """Capacity limiters over worker threads, with one inference worker kept from partials."""

    def __init__(self, workers: int, light: int = 2) -> None:
        self.workers = workers
        self.reserve = 1 if workers > 1 else 0
        self._inference = anyio.CapacityLimiter(workers)
        self._light = anyio.CapacityLimiter(light)
        self._lock = threading.Lock()
        self.busy_seconds = 0.0

    async def infer(self, func: Callable[[], T]) -> T:
        """Run an inference ``func()`` in a worker thread once an inference worker is free."""
        return await anyio.to_thread.run_sync(self._timed(func), limiter=self._inference)

    async def light(self, func: Callable[[], T]) -> T:
        """Run a short ``func()`` (a VAD step) in a worker thread of the light lane."""
        return await anyio.to_thread.run_sync(self._timed(func), limiter=self._light)

    def has_spare(self) -> bool:
        """True when optional inference may start without taking the reserved worker."""
        return self._inference.available_tokens > self.reserve

    def has_idle_worker(self) -> bool:
        """True when at least one inference worker is idle."""
        return self._inference.available_tokens > 0

    @property
    def inference_in_use(self) -> int:
        """Inference workers busy now."""
        return int(self._inference.borrowed_tokens)

    def _timed(self, func: Callable[[], T]) -> Callable[[], T]:
        def run() -> T:
            started = time.perf_counter()
            try:
                return func()
            finally:
                with self._lock:
                    self.busy_seconds += time.perf_counter() - started

        return run
