"""The local engine's scheduler for CPU-heavy work, shared by every session of a process.

Two lanes of worker threads:

- *inference* (Whisper decodes), ``workers`` at a time, one per CTranslate2 worker;
- *light* work (VAD scoring), at most ``light`` at a time. A VAD step costs about a millisecond
  per 32-ms frame; giving it its own lane means a session's end of speech is seen at once even
  while every inference worker is busy, instead of queueing behind decodes that take 0.3-0.7 s.

Inference has two kinds of work, and finals always go first:

- **finals** (:meth:`Compute.batched`) queue in arrival order. A worker that becomes free takes
  the oldest final; when more finals wait than there are workers (a backlog, as when many streams
  stop speaking at once), it takes up to ``max_batch - 1`` more of the same batch key with it and
  decodes them in one call, which costs less than one by one but serves the first one later.
- **optional work** (:meth:`Compute.infer`, partials) starts only when no final is waiting; and
  :meth:`Compute.has_spare` lets a session skip a partial when starting it would take the last
  free worker. Under load partial updates thin out first; finals only queue, never dropped.

A request that is cancelled while it waits leaves the queue and costs nothing; one that is
cancelled after its decode started waits for the decode (a thread cannot be interrupted) and
its batch partners still get their results.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import anyio
import anyio.to_thread

T = TypeVar("T")
R = TypeVar("R")


@dataclass(eq=False)
class _Final(Generic[R, T]):
    """A final waiting for a worker: what to decode, how, and where its result goes."""

    key: Hashable
    request: R
    run: Callable[[Sequence[R]], list[T]]
    result: asyncio.Future[T] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Compute:
    """Inference workers with finals first and batched, plus a lane for light work."""

    def __init__(self, workers: int, light: int = 2, max_batch: int = 2) -> None:
        self.workers = workers
        self.reserve = 1 if workers > 1 else 0
        self.max_batch = max(1, max_batch)
        self.busy_seconds = 0.0
        self.batches = 0
        """Final decodes run so far (a batch of several finals counts once)."""
        self.batched_finals = 0
        """Finals decoded so far."""
        self._idle = workers
        self._finals: deque[_Final[Any, Any]] = deque()
        self._optional: deque[asyncio.Future[None]] = deque()
        self._running: set[asyncio.Task[None]] = set()
        self._threads = anyio.CapacityLimiter(workers)
        self._light = anyio.CapacityLimiter(light)
        self._lock = threading.Lock()

    async def batched(self, key: Hashable, request: R, run: Callable[[Sequence[R]], list[T]]) -> T:
        """Decode a final: ``run`` gets this ``request`` and maybe other finals of the same
        ``key`` (so ``run`` must be the same for one key) and returns one result per request."""
        job: _Final[R, T] = _Final(key, request, run)
        self._finals.append(job)
        self._dispatch()
        try:
            return await asyncio.shield(job.result)
        except asyncio.CancelledError:
            if job in self._finals:
                self._finals.remove(job)
            else:  # its batch runs on: nobody will read the result
                job.result.add_done_callback(_discard)
            raise

    async def infer(self, func: Callable[[], T]) -> T:
        """Run optional inference ``func()`` in a worker thread once no final waits for one."""
        await self._acquire()
        try:
            return await anyio.to_thread.run_sync(self._timed(func), limiter=self._threads)
        finally:
            self._release()

    async def light(self, func: Callable[[], T]) -> T:
        """Run a short ``func()`` (a VAD step) in a worker thread of the light lane."""
        return await anyio.to_thread.run_sync(self._timed(func), limiter=self._light)

    def has_spare(self) -> bool:
        """True when optional inference may start without taking the reserved worker."""
        return self._idle > self.reserve and not self._finals

    @property
    def inference_in_use(self) -> int:
        """Inference workers busy now."""
        return self.workers - self._idle

    @property
    def finals_waiting(self) -> int:
        """Finals queued for a worker."""
        return len(self._finals)

    # -- worker accounting -------------------------------------------------------------------

    async def _acquire(self) -> None:
        if self._idle > 0 and not self._finals and not self._optional:
            self._idle -= 1
            return
        granted = asyncio.get_running_loop().create_future()
        self._optional.append(granted)
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self._release()  # granted just as the waiter was cancelled: hand it on
            elif granted in self._optional:
                self._optional.remove(granted)
            raise

    def _release(self) -> None:
        self._idle += 1
        self._dispatch()

    def _dispatch(self) -> None:
        """Give free workers to waiting finals first, then to waiting optional work."""
        while self._idle > 0:
            if self._finals:
                batch = self._take_batch()
                self._idle -= 1
                task = asyncio.get_running_loop().create_task(self._run_batch(batch))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
            elif self._optional:
                granted = self._optional.popleft()
                if not granted.done():
                    self._idle -= 1
                    granted.set_result(None)
            else:
                return

    def _take_batch(self) -> list[_Final[Any, Any]]:
        # a batch serves its first final later than a lone decode would: batch only a backlog,
        # more finals than workers, which one round of single decodes could not clear
        size = self.max_batch if len(self._finals) > self.workers else 1
        first = self._finals.popleft()
        batch = [first]
        for job in list(self._finals):
            if len(batch) == size:
                break
            if job.key == first.key:
                self._finals.remove(job)
                batch.append(job)
        return batch

    async def _run_batch(self, batch: list[_Final[Any, Any]]) -> None:
        requests = [job.request for job in batch]
        run = batch[0].run
        try:
            results = await anyio.to_thread.run_sync(
                self._timed(lambda: run(requests)), limiter=self._threads
            )
        except Exception as exc:
            for job in batch:
                if not job.result.done():
                    job.result.set_exception(exc)
        else:
            self.batches += 1
            self.batched_finals += len(batch)
            for job, result in zip(batch, results, strict=True):
                if not job.result.done():
                    job.result.set_result(result)
        finally:
            self._release()

    def _timed(self, func: Callable[[], T]) -> Callable[[], T]:
        def run() -> T:
            started = time.perf_counter()
            try:
                return func()
            finally:
                with self._lock:
                    self.busy_seconds += time.perf_counter() - started

        return run


def _discard(result: asyncio.Future[Any]) -> None:
    if not result.cancelled():
        result.exception()
