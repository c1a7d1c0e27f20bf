"""The objects one process shares between requests, built by ``create_app`` and kept on the app."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from realtime_stt.access import OriginPolicy
from realtime_stt.debug_log import DebugStore
from realtime_stt.engine.protocol import TranscriptionEngine
from realtime_stt.settings import Settings

if TYPE_CHECKING:
    from realtime_stt.browser_tokens import BrowserTokens


@dataclass
class SessionRegistry:
    """Open ``/ws`` sessions of this process, bounded by ``capacity`` (``MAX_SESSIONS``) in all
    and by ``per_client`` (``MAX_SESSIONS_PER_CLIENT``) for each client address.

    The bounds are per process: N instances (or uvicorn workers) hold up to N times as many.
    """

    capacity: int
    per_client: int
    open: dict[str, str] = field(default_factory=dict)
    """Session id to client address."""
    _by_client: Counter[str] = field(default_factory=Counter)

    @property
    def full(self) -> bool:
        """Whether the process holds ``capacity`` sessions."""
        return len(self.open) >= self.capacity

    def try_add(self, session_id: str, client: str = "") -> bool:
        """Register a session of ``client``; ``False`` when the process is :attr:`full` or the
        client holds ``per_client`` sessions already."""
        if self.full or self.client_full(client):
            return False
        self.open[session_id] = client
        self._by_client[client] += 1
        return True

    def client_full(self, client: str) -> bool:
        """Whether ``client`` already holds ``per_client`` sessions."""
        return self._by_client[client] >= self.per_client

    def remove(self, session_id: str) -> None:
        """Forget a session (idempotent)."""
        client = self.open.pop(session_id, None)
        if client is not None:
            self._by_client[client] -= 1
            if self._by_client[client] <= 0:
                del self._by_client[client]


@dataclass
class Services:
    """What routes share: settings, the engine, the debug buffers and the session registry."""

    settings: Settings
    engine: TranscriptionEngine
    debug: DebugStore
    sessions: SessionRegistry
    origins: OriginPolicy
    browser_tokens: BrowserTokens | None = None
    """Set when ``API_TOKEN`` is: the signer of ``POST /v1/tokens`` tokens."""
    started_at: float = field(default_factory=time.monotonic)
    engine_error: str | None = None
