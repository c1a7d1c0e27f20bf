"""Choose and build the engine named by the settings (``ENGINE``: auto, local or openai)."""

from __future__ import annotations

from realtime_stt.engine.protocol import TranscriptionEngine
from realtime_stt.settings import Settings


def build_engine(settings: Settings) -> TranscriptionEngine:
    """Build, but do not start, the engine ``settings`` selects."""
    if settings.resolved_engine == "openai":
        from realtime_stt.openai_engine import OpenAIEngine  # noqa: PLC0415 - optional path

        return OpenAIEngine(settings)
    from realtime_stt.local.engine import LocalEngine  # noqa: PLC0415 - heavy imports

    return LocalEngine.from_settings(settings)
