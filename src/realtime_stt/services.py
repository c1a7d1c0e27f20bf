"""The objects one process shares between requests, built by ``create_app`` and kept on the app."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from realtime_stt.access import OriginPolicy
from realtime_stt.debug_log import DebugStore
from realtime_stt.engine.protocol import TranscriptionEngine
from realtime_stt.settings import Settings


@dataclass
class SessionRegistry:
    """Open ``/ws`` sessions of this process, bounded by ``capacity`` (``MAX_SESSIONS``).

    The bound is per process: N instances (or uvicorn workers) hold up to N times as many.
    """

    capacity: int
    open: set[str] = field(default_factory=set)

    def try_add(self, session_id: str) -> bool:
        """Register a session; ``False`` when the process is at capacity."""
        if len(self.open) >= self.capacity:
            return False
        self.open.add(session_id)
        return True

    def remove(self, session_id: str) -> None:
        """Forget a session (idempotent)."""
        self.open.discard(session_id)


@dataclass
class Services:
    """What routes share: settings, the engine, the debug buffers and the session registry."""

    settings: Settings
    engine: TranscriptionEngine
    debug: DebugStore
    sessions: SessionRegistry
    origins: OriginPolicy
    started_at: float = field(default_factory=time.monotonic)
    engine_error: str | None = None
