"""The OpenAI Realtime engine: GA transcription sessions over WebSocket, one per client session.

:class:`OpenAIEngine` holds configuration only; :meth:`OpenAIEngine.start` checks it (a key, a
usable ``OPENAI_BASE_URL``, and settings the chosen model supports; see
:mod:`~realtime_stt.openai_engine.config`) without contacting OpenAI, and logs a warning for a
deprecated or unknown model. Each :meth:`OpenAIEngine.open_session` opens its own upstream
connection.

Two kinds of session, by the turn detection in use:

* upstream's (``server_vad``, ``semantic_vad``): :class:`~.session.OpenAISession`, audio in at
  24 kHz (the only PCM rate upstream takes; the service resamples);
* ours (``client``, always for the streaming models): :class:`~.client_session.ClientCommitSession`,
  audio in at 16 kHz, which our VAD scores and the session resamples to 24 kHz itself.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from realtime_stt.engine.protocol import EngineCapabilities, EngineSession, SessionConfig
from realtime_stt.local.vad import SAMPLE_RATE as VAD_RATE
from realtime_stt.openai_engine.client_session import ClientCommitSession
from realtime_stt.openai_engine.config import ConfigError, TranscriptionConfig, resolve_config
from realtime_stt.openai_engine.connection import Target
from realtime_stt.openai_engine.events import realtime_url, session_update
from realtime_stt.openai_engine.models import model_spec
from realtime_stt.openai_engine.scoring import ScoringThread
from realtime_stt.openai_engine.session import OpenAISession
from realtime_stt.openai_engine.tuning import SAMPLE_RATE, Tuning
from realtime_stt.openai_engine.usage import SessionUsage, UsageTotals
from realtime_stt.settings import Settings

log = logging.getLogger(__name__)


class OpenAIEngine:
    """Implements ``TranscriptionEngine`` with the GA OpenAI Realtime API (transcription intent).

    Args:
        settings: the ``OPENAI_*`` fields are used.
        tuning: timeouts, back-off, rotation and buffer limits (defaults suit production).
    """

    name = "openai"

    def __init__(self, settings: Settings, *, tuning: Tuning | None = None) -> None:
        self.model = settings.openai_realtime_model
        self._settings = settings
        self._tuning = tuning or Tuning(retry_window_s=settings.openai_retry_window_s)
        self._url: str | None = None
        self._error: ConfigError | None = None
        self._warnings: list[str] = []
        try:
            self.config, self._warnings = resolve_config(settings)
        except ConfigError as exc:
            self._error = exc
            spec = model_spec(settings.openai_realtime_model)
            self.config = TranscriptionConfig(spec, spec.default_turn_detection())
        self.capabilities = EngineCapabilities(
            input_sample_rate=VAD_RATE if self.config.client_commits else SAMPLE_RATE,
            interim_results=True,
            word_timestamps=False,
            # one process proxies 100 streams with added p99 under 10 ms on one core
            default_max_sessions=100,
        )
        self.usage = UsageTotals()
        """Usage of every session of this process, per model (read by ``/metrics``)."""
        self._scoring = ScoringThread()

    @property
    def ready(self) -> bool:
        """True once :meth:`start` has validated the configuration."""
        return self._url is not None

    def public_view(self) -> dict[str, object]:
        """The model's capabilities and the turn detection in use, for ``GET /config``."""
        return self.config.public_view()

    async def start(self) -> None:
        """Check the configuration; raises ``RuntimeError`` naming the setting that is wrong."""
        key = self._settings.openai_api_key
        if key is None or not key.get_secret_value().strip():
            msg = "the OpenAI engine needs OPENAI_API_KEY"
            raise RuntimeError(msg)
        if self._error is not None:
            raise RuntimeError(str(self._error))
        try:
            self._url = realtime_url(self._settings.openai_base_url)
        except ValueError as exc:
            raise RuntimeError(str(exc)) from exc
        for warning in self._warnings:
            log.warning("%s", warning)
        log.info(
            "OpenAI model %s, turn detection %s",
            self.config.model.name,
            self.config.turn_detection,
        )

    async def aclose(self) -> None:
        """Forget the validated configuration and stop the VAD thread; open sessions end."""
        self._url = None
        self._scoring.close()

    @asynccontextmanager
    async def open_session(self, config: SessionConfig) -> AsyncIterator[EngineSession]:
        """Open a session in ``config.language``; leaving the context closes its connections.

        Raises:
            RuntimeError: :meth:`start` has not succeeded.
        """
        key = self._settings.openai_api_key
        if self._url is None or key is None:
            msg = "the OpenAI engine is not started"
            raise RuntimeError(msg)
        update = session_update(self.config, config.language)
        target = Target(self._url, key.get_secret_value().strip(), update)
        usage = SessionUsage(self.config.model, self.usage)
        if self.config.client_commits:
            client = ClientCommitSession(target, self._tuning, self.config, self._scoring, usage)
            async with client.running():
                yield client
            return
        session = OpenAISession(target, self._tuning, usage)
        async with session.running():
            yield session
