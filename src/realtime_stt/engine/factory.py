"""Choose and build the engine named by the settings (``ENGINE``: auto, local or openai)."""

from __future__ import annotations

import importlib

from realtime_stt.engine.protocol import TranscriptionEngine
from realtime_stt.settings import Settings


def build_engine(settings: Settings) -> TranscriptionEngine:
    """Build, but do not start, the engine ``settings`` selects."""
    if settings.resolved_engine == "openai":
        module = importlib.import_module("realtime_stt.openai_engine")
        engine: TranscriptionEngine = module.OpenAIEngine(settings)
        return engine
    from realtime_stt.local.engine import LocalEngine  # noqa: PLC0415 - heavy imports

    return LocalEngine.from_settings(settings)
