"""Off-loop scoring of client audio for client commits: one thread serves every session.

Each session has a :class:`ScoringLane`: the session submits 16-kHz PCM16 chunks (and markers
such as flush and end) from the event loop; the :class:`ScoringThread` resamples each lane's
audio to 24 kHz (soxr, state kept per lane) and scores its 32-ms frames with Silero
(:class:`~realtime_stt.local.vad.StreamingVad`), then hands the results back to the loop in order.

Batching across sessions: each round takes the audio every lane has queued (up to a marker),
scores all lanes together (:class:`~.vad_batch.BatchVad`: one model call per 32-ms step for all
streams, rather than one per stream), and delivers the results of every lane in one
``call_soon_threadsafe``, so the loop is woken once per round, not once per chunk. The model call
releases the GIL, so the loop runs meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import soxr

from realtime_stt.local.vad import SAMPLE_RATE as VAD_RATE
from realtime_stt.openai_engine.vad_batch import GATE_RMS, BatchVad, LaneVad, batched_model

log = logging.getLogger(__name__)
UPSTREAM_RATE = 24_000
ROUND_S = 0.03
"""Rounds start at most this often: under load each round scores more sessions in each model
call and holds the GIL less often; a chunk waits at most this long for its round."""


@dataclass(frozen=True, slots=True)
class Scored:
    """One lane's audio, processed: ``pcm24`` (24-kHz PCM16), ``probs`` (one per whole frame
    completed), ``samples16`` (input samples it covers), then ``marker`` if one followed."""

    pcm24: bytes
    probs: npt.NDArray[np.float32]
    samples16: int
    marker: object | None = None


class ScoringLane:
    """One session's queue into the :class:`ScoringThread`; used from the event loop."""

    def __init__(self, thread: ScoringThread, deliver: Callable[[Scored], None]) -> None:
        self._thread = thread
        self._deliver = deliver
        self._inbox: deque[bytes | object] = deque()
        self.vad = LaneVad()
        self._resampler: soxr.ResampleStream | None = soxr.ResampleStream(
            VAD_RATE, UPSTREAM_RATE, 1, dtype="int16", quality="HQ"
        )
        self._closed = False
        self.queued = 0
        """16-kHz samples submitted and not delivered back yet."""

    def submit(self, pcm16: bytes) -> None:
        """Queue PCM16 LE mono 16-kHz audio (an even number of bytes)."""
        if self._closed or not pcm16:
            return
        self.queued += len(pcm16) // 2
        self._inbox.append(pcm16)
        self._thread.wake(self)

    def mark(self, marker: object) -> None:
        """Queue ``marker``: it comes back after the results of all audio submitted before it."""
        if not self._closed:
            self._inbox.append(marker)
            self._thread.wake(self)

    def close(self) -> None:
        """Stop: queued work is dropped, nothing more is delivered, the resampler is freed."""
        self._closed = True
        self._inbox.clear()
        self._resampler = None

    # -- on the scoring thread -----------------------------------------------------------------

    def _take(self) -> _Work | None:
        """The queued audio up to the first marker (which is taken too); the rest waits.

        ``None`` when there is nothing to take: a lane can be woken again while a round is
        already taking what woke it.
        """
        if not self._inbox:
            return None
        chunks: list[bytes] = []
        marker: object | None = None
        while self._inbox:
            item = self._inbox.popleft()
            if isinstance(item, bytes):
                chunks.append(item)
            else:
                marker = item
                break
        audio = np.frombuffer(b"".join(chunks), dtype="<i2")
        resampler = self._resampler
        if resampler is None:  # closed or ended meanwhile: nothing more is resampled
            return _Work(self, audio, b"", marker)
        out: npt.NDArray[np.int16] = resampler.resample_chunk(audio, last=marker is END)
        if marker is END:
            self._resampler = None
        return _Work(self, audio, out.astype("<i2", copy=False).tobytes(), marker)

    @property
    def _has_work(self) -> bool:
        return bool(self._inbox)

    def _on_loop(self, results: list[Scored]) -> None:
        for result in results:
            self.queued -= result.samples16
            if not self._closed:
                self._deliver(result)


@dataclass
class _Work:
    lane: ScoringLane
    audio: npt.NDArray[np.int16]
    pcm24: bytes
    marker: object | None


END = object()
"""The marker that ends a lane's input: the resampler's tail is flushed with it."""
FAILED = object()
"""The marker delivered instead of results when scoring raised: the session cannot go on."""
_NO_PROBS = np.zeros(0, dtype=np.float32)


class ScoringThread:
    """The process's scoring worker: started on first use, stopped by :meth:`close`."""

    def __init__(self) -> None:
        self._ready: deque[ScoringLane] = deque()
        self._queued: set[ScoringLane] = set()
        self._lock = threading.Lock()
        self._signal = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False

    def lane(self, deliver: Callable[[Scored], None]) -> ScoringLane:
        """A new lane whose results go to ``deliver`` (called on this event loop)."""
        loop = asyncio.get_running_loop()
        if self._thread is None or self._loop is not loop:
            self._start(loop)
        return ScoringLane(self, deliver)

    def wake(self, lane: ScoringLane) -> None:
        """``lane`` has work (called from the loop)."""
        with self._lock:
            if lane not in self._queued:
                self._queued.add(lane)
                self._ready.append(lane)
        self._signal.set()

    def close(self) -> None:
        """Stop the worker after its current round."""
        self._stopping = True
        self._signal.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._thread is not None:
            self.close()
        self._stopping = False
        self._loop = loop
        self._thread = threading.Thread(target=self._run, name="vad-scoring", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        vad = BatchVad(batched_model(), GATE_RMS)
        last_round = 0.0
        while not self._stopping:
            self._signal.wait()
            # let a round gather what arrives within ROUND_S of the previous one's start
            time.sleep(max(0.0, last_round + ROUND_S - time.monotonic()))
            last_round = time.monotonic()
            self._signal.clear()
            with self._lock:
                lanes = list(self._ready)
                self._ready.clear()
                self._queued.clear()
            batch = self._round(vad, lanes)
            loop = self._loop
            if batch and loop is not None and not loop.is_closed():
                try:
                    loop.call_soon_threadsafe(_deliver_all, batch)
                except RuntimeError:
                    return
            del lanes, batch  # hold no session while waiting

    def _round(
        self, vad: BatchVad, lanes: list[ScoringLane]
    ) -> list[tuple[ScoringLane, list[Scored]]]:
        """Resample each lane's queued audio, score all of it in batched model calls. A lane
        whose audio cannot be taken fails alone; a failed model call fails the round's lanes."""
        failed: list[tuple[ScoringLane, list[Scored]]] = []
        work: list[_Work] = []
        for lane in lanes:
            try:
                taken = lane._take()
            except Exception:
                log.exception("VAD scoring failed for one session")
                failed.append((lane, [Scored(b"", _NO_PROBS, 0, FAILED)]))
                continue
            if taken is not None:
                work.append(taken)
        try:
            probs = vad.score([(w.lane.vad, w.audio.astype(np.float32) / 32768.0) for w in work])
        except Exception:
            log.exception("VAD scoring failed")
            return failed + [(w.lane, [Scored(b"", _NO_PROBS, 0, FAILED)]) for w in work]
        for lane in lanes:
            if lane._has_work:  # audio after a marker: the next round takes it
                self.wake(lane)
        return failed + [
            (w.lane, [Scored(w.pcm24, p, w.audio.size, w.marker)])
            for w, p in zip(work, probs, strict=True)
        ]


def _deliver_all(batch: list[tuple[ScoringLane, list[Scored]]]) -> None:
    for lane, results in batch:
        lane._on_loop(results)
