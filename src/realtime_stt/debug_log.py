"""Debug ring buffers: the last N audio chunks and texts that crossed the service.

Four buffers, each a ``deque(maxlen=N)`` so memory stays bounded however long the service runs:

- ``front-chunks``: audio chunks received from clients;
- ``openai-chunks``: audio chunks sent to the active engine (the name is kept for compatibility
  with the first version, which only had the OpenAI engine);
- ``openai-text``: text events received from the engine;
- ``front-text``: messages sent to clients.

Chunk entries carry metadata and level only, never raw audio.
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Any, Literal

from realtime_stt.audio import Int16Array, level

BufferName = Literal["front-chunks", "openai-chunks", "openai-text", "front-text"]
BUFFER_NAMES: tuple[BufferName, ...] = (
    "front-chunks",
    "openai-chunks",
    "openai-text",
    "front-text",
)


class DebugLog:
    """The four ring buffers of one process."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._buffers: dict[BufferName, deque[dict[str, Any]]] = {
            name: deque(maxlen=size) for name in BUFFER_NAMES
        }

    def record_chunk(
        self, buffer: BufferName, session_id: str, seq: int, samples: Int16Array, sample_rate: int
    ) -> None:
        """Record one audio chunk's metadata and level."""
        lvl = level(samples)
        self._buffers[buffer].append(
            {
                "session_id": session_id,
                "seq": seq,
                "time": time.time(),
                "bytes": int(samples.size) * 2,
                "samples": int(samples.size),
                "sample_rate": sample_rate,
                "duration_s": round(samples.size / sample_rate, 4),
                "rms_dbfs": None if math.isinf(lvl.rms_dbfs) else round(lvl.rms_dbfs, 2),
                "peak": round(lvl.peak, 4),
            }
        )

    def record_text(self, buffer: BufferName, session_id: str, payload: dict[str, Any]) -> None:
        """Record one text event or message (``payload`` is copied into the entry)."""
        self._buffers[buffer].append({"session_id": session_id, "time": time.time(), **payload})

    def read(
        self, buffer: BufferName, *, limit: int | None = None, session_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The newest ``limit`` entries (all if ``None``), oldest first, of one session if asked."""
        entries = [
            entry
            for entry in self._buffers[buffer]
            if session_id is None or entry["session_id"] == session_id
        ]
        return entries[-limit:] if limit is not None else entries
