"""The OpenAI engine's configuration: the ``OPENAI_*`` settings checked against the model table.

:func:`resolve_config` runs when the engine starts. A setting the chosen model does not accept is
a :class:`ConfigError` there, with a message that names the setting and the model, rather than
a session that upstream refuses later. Warnings (a deprecated model, an unknown one) are
returned for the engine to log once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from realtime_stt.openai_engine.models import ModelSpec, TurnDetection, model_spec
from realtime_stt.settings import Settings

Delay = Literal["minimal", "low", "medium", "high", "xhigh"]


class ConfigError(ValueError):
    """A setting the chosen model (or turn detection) cannot take."""


@dataclass(frozen=True, slots=True)
class TranscriptionConfig:
    """What every ``session.update`` of this engine asks for, except the session's language.

    Attributes:
        model: the model and what it supports.
        turn_detection: who ends turns: upstream (``server_vad``, ``semantic_vad``) or our
            endpointer (``client``, sent upstream as ``turn_detection: null``).
        prompt: free text for the model ('' sends none).
        keywords: words or phrases to expect (empty sends none).
        languages: possible languages; when set, sent instead of the session's ``language``.
        delay: the streaming models' latency/accuracy trade-off (``None`` sends none).
        vad_threshold: upstream's server VAD threshold, and our own VAD's in ``client`` mode.
        prefix_padding_ms: upstream's server VAD prefix padding.
        silence_duration_ms: upstream's server VAD silence before a turn ends.
        commit_silence_ms: ``client`` mode: silence after speech before we commit the turn.
        speech_pad_ms: ``client`` mode: audio kept before and after speech in a turn.
        max_utterance_s: ``client`` mode: a longer turn is committed at this length.
        noise_reduction: upstream's input filter (``none`` sends ``null``).
    """

    model: ModelSpec
    turn_detection: TurnDetection
    prompt: str = ""
    keywords: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    delay: Delay | None = None
    vad_threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    commit_silence_ms: int = 400
    speech_pad_ms: int = 200
    max_utterance_s: float = 30.0
    noise_reduction: Literal["near_field", "far_field", "none"] = "near_field"

    @property
    def client_commits(self) -> bool:
        """Whether our endpointer commits turns (upstream's turn detection is off)."""
        return self.turn_detection == "client"

    def public_view(self) -> dict[str, object]:
        """For ``GET /config``: the model's capabilities and the turn detection in use."""
        return {**self.model.public_view(), "turn_detection_in_use": self.turn_detection}


def resolve_config(settings: Settings) -> tuple[TranscriptionConfig, list[str]]:
    """The checked configuration and the warnings to log at start-up.

    Raises:
        ConfigError: a setting the model does not support, or a turn detection it refuses.
    """
    spec = model_spec(settings.openai_realtime_model)
    warnings: list[str] = []
    if not spec.known:
        warnings.append(
            f"OPENAI_REALTIME_MODEL={spec.name} is not a model this version knows; it is "
            "treated as turn-based, with only the fields every model takes"
        )
    if spec.shutdown is not None:
        warnings.append(
            f"OPENAI_REALTIME_MODEL={spec.name} is deprecated: OpenAI shuts it down on "
            f"{spec.shutdown}; choose gpt-live-transcribe or gpt-transcribe"
        )
    mode = settings.openai_turn_detection
    turn_detection = spec.default_turn_detection() if mode == "auto" else mode
    if turn_detection not in spec.allowed_turn_detection():
        msg = (
            f"OPENAI_TURN_DETECTION={mode}: {spec.name} streams text while people speak and "
            "accepts no upstream turn detection; use auto or client"
        )
        raise ConfigError(msg)
    unsupported = [
        setting
        for setting, value, ok in (
            ("OPENAI_PROMPT", settings.openai_prompt, spec.prompt),
            ("OPENAI_KEYWORDS", settings.openai_keywords, spec.keywords),
            ("OPENAI_LANGUAGES", settings.openai_languages, spec.languages),
            ("OPENAI_TRANSCRIPTION_DELAY", settings.openai_transcription_delay, spec.delay),
        )
        if value and not ok
    ]
    if unsupported:
        msg = f"{' and '.join(unsupported)} not supported by {spec.name}; unset or change model"
        raise ConfigError(msg)
    config = TranscriptionConfig(
        model=spec,
        turn_detection=turn_detection,
        prompt=settings.openai_prompt,
        keywords=tuple(settings.openai_keywords),
        languages=tuple(settings.openai_languages),
        delay=settings.openai_transcription_delay,
        vad_threshold=settings.openai_vad_threshold,
        prefix_padding_ms=settings.openai_prefix_padding_ms,
        silence_duration_ms=settings.openai_silence_duration_ms,
        commit_silence_ms=settings.openai_commit_silence_ms,
        speech_pad_ms=settings.openai_speech_pad_ms,
        max_utterance_s=settings.openai_max_utterance_s,
        noise_reduction=settings.openai_noise_reduction,
    )
    return config, warnings
