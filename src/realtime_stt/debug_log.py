"""Debug ring buffers: the last N audio chunks and texts that crossed the service.

Four buffers, each bounded to the newest N entries so memory stays bounded however long the
service runs:

- ``front-chunks``: audio chunks received from clients;
- ``engine-chunks``: audio chunks sent to the engine in use, whichever it is;
- ``engine-text``: text events received from the engine;
- ``front-text``: messages sent to clients.

Outside the code, a buffer goes by its :data:`BUFFER_PATHS` name (its URL under ``/debug/``, its
shared-store key): the engine's two keep the ``openai-*`` names of the first version, which only
had the OpenAI engine, because clients use them.

Chunk entries carry metadata and level only, never raw audio. Every entry names the ``instance``
that recorded it. A session records through its :class:`SessionDebug`, which numbers its chunks
and says what of an engine event is kept. :func:`chunk_entry` and :func:`text_entry` build the
entries, so every store returns the same shape. The in-memory store measures a chunk's level when
the entry is first read rather than when it is recorded: recording happens twice for every chunk
of every session, reading only when someone looks (see :data:`LAZY_LEVEL_MAX_SAMPLES`).

Contract of a :class:`DebugStore`:

- ``record_chunk`` and ``record_text`` are synchronous, never block, never raise into a session,
  and are called from the event loop that serves the app;
- ``read`` returns the newest ``limit`` entries (all kept ones if ``None``) of one buffer, oldest
  first, of one session if ``session_id`` is given; it raises :class:`DebugStoreUnavailableError`
  when the shared store cannot be read;
- ``health`` is ``"off"`` for the in-memory store, ``"ok"`` or ``"degraded"`` for a shared one;
  ``dropped`` counts entries that were never stored (always 0 in memory);
- ``start`` and ``aclose`` run in the app's lifespan.

:class:`DebugLog` is the in-memory store of one process (``deque(maxlen=N)`` per buffer), the
default. ``realtime_stt.debug_redis.RedisDebugLog`` shares the buffers between instances.
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from realtime_stt.audio import Int16Array, level
from realtime_stt.engine.protocol import EngineError, EngineEvent, Final, Partial

LAZY_LEVEL_MAX_SAMPLES = 4096
"""Chunks up to this size keep a reference to their samples until the entry is read, so the
level is computed only for entries someone reads (it was about 8 % of the proxy's CPU at 60
streams when computed for every chunk). Larger chunks are measured at once, which bounds what a
buffer holds to ``size`` x 8 KiB."""

BufferName = Literal["front-chunks", "engine-chunks", "engine-text", "front-text"]
BUFFER_NAMES: tuple[BufferName, ...] = (
    "front-chunks",
    "engine-chunks",
    "engine-text",
    "front-text",
)
BUFFER_PATHS: dict[BufferName, str] = {
    "front-chunks": "front-chunks",
    "engine-chunks": "openai-chunks",
    "engine-text": "openai-text",
    "front-text": "front-text",
}
"""Each buffer's name outside the code: ``GET /debug/<name>``, and its key in a shared store."""
StoreHealth = Literal["off", "ok", "degraded"]


class DebugStoreUnavailableError(Exception):
    """The shared debug store cannot be read right now."""


class DebugStore(Protocol):
    """Where the four debug buffers live (see the module docstring for the contract)."""

    @property
    def health(self) -> StoreHealth:
        """``"off"`` (in memory), ``"ok"`` or ``"degraded"`` (shared store unreachable)."""
        ...

    @property
    def dropped(self) -> int:
        """Entries recorded but never stored."""
        ...

    def record_chunk(
        self, buffer: BufferName, session_id: str, seq: int, samples: Int16Array, sample_rate: int
    ) -> None:
        """Record one audio chunk's metadata and level; never blocks."""
        ...

    def record_text(self, buffer: BufferName, session_id: str, payload: dict[str, Any]) -> None:
        """Record one text event or message; never blocks."""
        ...

    async def read(
        self, buffer: BufferName, *, limit: int | None = None, session_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The newest ``limit`` entries, oldest first, of one session if asked."""
        ...

    async def start(self) -> None:
        """Begin serving (connect, start background work)."""
        ...

    async def aclose(self) -> None:
        """Stop background work and release connections."""
        ...


def chunk_entry(  # noqa: PLR0917 - the fields of one entry
    instance: str,
    session_id: str,
    seq: int,
    samples: Int16Array,
    sample_rate: int,
    at: float | None = None,
) -> dict[str, Any]:
    """The entry for one audio chunk: metadata and level, never raw audio; ``at`` is when it was
    received (now if ``None``)."""
    lvl = level(samples)
    return {
        "session_id": session_id,
        "instance": instance,
        "seq": seq,
        "time": time.time() if at is None else at,
        "bytes": int(samples.size) * 2,
        "samples": int(samples.size),
        "sample_rate": sample_rate,
        "duration_s": round(samples.size / sample_rate, 4),
        "rms_dbfs": None if math.isinf(lvl.rms_dbfs) else round(lvl.rms_dbfs, 2),
        "peak": round(lvl.peak, 4),
    }


def text_entry(instance: str, session_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The entry for one text event or message (``payload`` is copied into it)."""
    return {"session_id": session_id, "time": time.time(), **payload, "instance": instance}


class _Recorded:
    """One kept entry: ready, or a chunk whose level is measured when first read."""

    __slots__ = ("_value", "session_id")

    def __init__(
        self, session_id: str, value: dict[str, Any] | tuple[str, int, Int16Array, int, float]
    ) -> None:
        self.session_id = session_id
        self._value = value

    def entry(self) -> dict[str, Any]:
        if isinstance(self._value, tuple):
            instance, seq, samples, rate, at = self._value
            self._value = chunk_entry(instance, self.session_id, seq, samples, rate, at)
        return self._value  # the samples, if any, are no longer held


class DebugLog:
    """The four ring buffers of one process, in memory."""

    def __init__(self, size: int, instance: str = "local") -> None:
        self.size = size
        self.instance = instance
        self._buffers: dict[BufferName, deque[_Recorded]] = {
            name: deque(maxlen=size) for name in BUFFER_NAMES
        }

    @property
    def health(self) -> StoreHealth:
        """Always ``"off"``: no shared store is involved."""
        return "off"

    @property
    def dropped(self) -> int:
        """Always 0: an append to a bounded deque cannot fail."""
        return 0

    def record_chunk(
        self, buffer: BufferName, session_id: str, seq: int, samples: Int16Array, sample_rate: int
    ) -> None:
        """Record one audio chunk's metadata and level (measured when first read)."""
        if samples.size > LAZY_LEVEL_MAX_SAMPLES:
            entry = chunk_entry(self.instance, session_id, seq, samples, sample_rate)
            self._buffers[buffer].append(_Recorded(session_id, entry))
            return
        chunk = (self.instance, seq, samples, sample_rate, time.time())
        self._buffers[buffer].append(_Recorded(session_id, chunk))

    def record_text(self, buffer: BufferName, session_id: str, payload: dict[str, Any]) -> None:
        """Record one text event or message (``payload`` is copied into the entry)."""
        entry = text_entry(self.instance, session_id, payload)
        self._buffers[buffer].append(_Recorded(session_id, entry))

    async def read(
        self, buffer: BufferName, *, limit: int | None = None, session_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The newest ``limit`` entries (all if ``None``), oldest first, of one session if asked."""
        kept = [
            item
            for item in self._buffers[buffer]
            if session_id is None or item.session_id == session_id
        ]
        return [item.entry() for item in (kept[-limit:] if limit is not None else kept)]

    async def start(self) -> None:
        """Nothing to start."""

    async def aclose(self) -> None:
        """Nothing to release."""


class SessionDebug:
    """What one session records in the debug buffers; its chunks are numbered from 0 per buffer."""

    def __init__(self, store: DebugStore, session_id: str) -> None:
        self._store = store
        self._session_id = session_id
        self._client_chunks = 0
        self._engine_chunks = 0

    def client_chunk(self, samples: Int16Array, sample_rate: int) -> None:
        """A chunk of audio received from the client (``front-chunks``)."""
        seq, self._client_chunks = self._client_chunks, self._client_chunks + 1
        self._store.record_chunk("front-chunks", self._session_id, seq, samples, sample_rate)

    def engine_chunk(self, samples: Int16Array, sample_rate: int) -> None:
        """A chunk of audio pushed to the engine (``engine-chunks``)."""
        seq, self._engine_chunks = self._engine_chunks, self._engine_chunks + 1
        self._store.record_chunk("engine-chunks", self._session_id, seq, samples, sample_rate)

    def engine_event(self, event: EngineEvent) -> None:
        """An engine event with text (``engine-text``): a partial's or final's segment and text,
        an error's code and message; a speech start is not recorded."""
        payload: dict[str, object]
        if isinstance(event, Partial | Final):
            kind = "partial" if isinstance(event, Partial) else "final"
            payload = {"type": kind, "segment_id": event.segment_id, "text": event.text}
        elif isinstance(event, EngineError):
            payload = {"type": "error", "code": event.code, "message": event.message}
        else:
            return
        self._store.record_text("engine-text", self._session_id, payload)

    def sent(self, message: BaseModel) -> None:
        """A message sent to the client, as it went out (``front-text``)."""
        payload = message.model_dump(exclude_none=True)
        self._store.record_text("front-text", self._session_id, payload)
