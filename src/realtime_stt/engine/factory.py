"""Choose and build the engine named by the settings (``ENGINE``: auto, local or openai).

``auto`` serves OpenAI when ``OPENAI_API_KEY`` is set and the local engine otherwise
(:attr:`Settings.resolved_engine`). Engines are found by name in
:mod:`realtime_stt.engine.registry`; this module imports none of them.
"""

from __future__ import annotations

from realtime_stt.engine.protocol import TranscriptionEngine
from realtime_stt.engine.registry import EngineSpec, EngineUnavailableError, engine_spec
from realtime_stt.settings import Settings


def check_engine(settings: Settings) -> EngineSpec:
    """The spec of the engine ``settings`` selects, once it can run here.

    Raises:
        EngineUnavailableError: with one line naming the setting, what is missing and the command
            that installs it (for ``ENGINE=auto`` without a key: that extra, or the key).
    """
    name = settings.resolved_engine
    try:
        return engine_spec(name)
    except EngineUnavailableError as exc:
        if settings.engine == "auto":
            msg = (
                f"ENGINE=auto serves the {name} engine when OPENAI_API_KEY is not set, and {exc}; "
                "or set OPENAI_API_KEY to use the OpenAI engine"
            )
        else:
            msg = f"ENGINE={settings.engine}: {exc}"
        raise EngineUnavailableError(msg) from None


def build_engine(settings: Settings) -> TranscriptionEngine:
    """Build, but do not start, the engine ``settings`` selects (see :func:`check_engine`)."""
    return check_engine(settings).build(settings)
