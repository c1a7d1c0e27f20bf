"""What each OpenAI transcription model supports, in one table, and the turn detection it gets.

Sources: the docstrings of ``AudioTranscription`` and ``RealtimeTranscriptionSessionAudioInput``
in ``openai.types.realtime`` (openai 3.57), OpenAI's cookbook "Migrate from Whisper to
GPT-Transcribe and GPT-Live-Transcribe" (which sends ``delay`` and ``prompt`` to
``gpt-live-transcribe``, and never ``language`` together with ``languages``), and the models'
pages for prices (published per minute of audio, December 2026).

* *Streaming* models send text while the person speaks and accept only sessions with
  ``turn_detection: null``: the client (our endpointer) commits each turn.
* *Turn-based* models transcribe a turn once it is committed, by upstream's VAD or by us.

``OPENAI_REALTIME_MODEL`` may name a model this table does not know (new ones appear): it gets
:data:`UNKNOWN` (turn-based, only the fields every model takes) and a warning at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TurnDetection = Literal["server_vad", "semantic_vad", "client"]
"""Who ends a turn: upstream's VAD (plain or semantic), or our own endpointer's commits."""

SHUTDOWN_2027 = "2027-02-26"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One transcription model's capabilities.

    Attributes:
        name: the model id sent upstream.
        streaming: text arrives while speech is still coming in; needs client commits.
        prompt: accepts ``prompt``.
        keywords: accepts ``keywords``.
        languages: accepts ``languages`` (a list of ISO-639-1 codes).
        delay: accepts ``delay`` (``minimal`` .. ``xhigh``).
        shutdown: the announced shutdown date (ISO), if deprecated.
        usd_per_minute: the published price per minute of audio, if known.
        billing: what ``completed.usage`` counts for it: audio ``duration`` or ``tokens``.
        known: listed in this table (``False`` only for :data:`UNKNOWN` copies).
    """

    name: str
    streaming: bool
    prompt: bool
    keywords: bool
    languages: bool
    delay: bool
    shutdown: str | None = None
    usd_per_minute: float | None = None
    billing: Literal["duration", "tokens"] = "tokens"
    known: bool = True

    def allowed_turn_detection(self) -> tuple[TurnDetection, ...]:
        """Turn detection modes upstream accepts with this model."""
        if self.streaming:
            return ("client",)
        return ("server_vad", "semantic_vad", "client")

    def default_turn_detection(self) -> TurnDetection:
        """What ``OPENAI_TURN_DETECTION=auto`` means: our commits for streaming models, else
        upstream's server VAD."""
        return "client" if self.streaming else "server_vad"

    def public_view(self) -> dict[str, object]:
        """The capabilities as shown by ``GET /config``."""
        return {
            "name": self.name,
            "known": self.known,
            "streaming": self.streaming,
            "turn_detection": list(self.allowed_turn_detection()),
            "supports": [
                name
                for name, ok in (
                    ("prompt", self.prompt),
                    ("keywords", self.keywords),
                    ("languages", self.languages),
                    ("delay", self.delay),
                )
                if ok
            ],
            "shutdown": self.shutdown,
            "usd_per_minute": self.usd_per_minute,
            "billing": self.billing,
        }


def _deprecated(name: str, usd: float, billing: Literal["duration", "tokens"]) -> ModelSpec:
    prompt = name != "gpt-4o-transcribe-diarize"
    return ModelSpec(name, False, prompt, False, False, False, SHUTDOWN_2027, usd, billing=billing)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("gpt-live-transcribe", True, True, True, True, True, None, 0.017, "duration"),
        ModelSpec("gpt-realtime-whisper", True, False, False, False, True, None, 0.017, "duration"),
        ModelSpec("gpt-transcribe", False, True, True, True, False, None, 0.0045, "duration"),
        _deprecated("gpt-4o-transcribe", 0.006, "tokens"),
        _deprecated("gpt-4o-mini-transcribe", 0.003, "tokens"),
        _deprecated("gpt-4o-mini-transcribe-2025-12-15", 0.003, "tokens"),
        _deprecated("gpt-4o-transcribe-diarize", 0.006, "tokens"),
        _deprecated("whisper-1", 0.006, "duration"),
    )
}
"""Every model the SDK names, by id."""

UNKNOWN = ModelSpec("", streaming=False, prompt=True, keywords=False, languages=False, delay=False)
"""What a model missing from :data:`MODELS` is taken to support."""

DEFAULT_MODEL = "gpt-live-transcribe"


def model_spec(name: str) -> ModelSpec:
    """The spec of model ``name``; an unknown name gets :data:`UNKNOWN`'s (``known=False``)."""
    spec = MODELS.get(name)
    if spec is not None:
        return spec
    return ModelSpec(
        name,
        UNKNOWN.streaming,
        UNKNOWN.prompt,
        UNKNOWN.keywords,
        UNKNOWN.languages,
        UNKNOWN.delay,
        known=False,
    )
