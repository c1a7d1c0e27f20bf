"""The fake's table of transcription models: what each accepts, how it streams, how it bills.

Written from the public record, not from the engine's own table (so a mistake in one is caught by
the other): the docstrings of ``AudioTranscription`` and ``RealtimeTranscriptionSessionAudioInput``
in ``openai.types.realtime`` (openai 3.57), and OpenAI's cookbook "Migrate from Whisper to
GPT-Transcribe and GPT-Live-Transcribe" (which sends ``delay: "low"`` and a ``prompt`` to
``gpt-live-transcribe``).

* The five older models are deprecated (shutdown 2027-02-26) and turn-based.
* ``gpt-transcribe`` is turn-based and takes ``prompt``, ``keywords`` and ``languages``.
* ``gpt-live-transcribe`` streams and takes ``prompt``, ``keywords``, ``languages`` and ``delay``.
* ``gpt-realtime-whisper`` streams and takes ``delay`` only (no ``prompt``).

Where the record is thin the fake takes the strict reading: a field a model is not documented to
take is refused; ``whisper-1`` sends its whole turn in one delta (as the guide says); duration
billing is used by ``whisper-1`` and the streaming models, token billing by the ``gpt-4o-*``
models and ``gpt-transcribe``.

:data:`FIRST_DELTA_S` is how much voiced audio a streaming model waits for before its first
delta, per ``delay`` (the fake's own figures, ordered as the SDK describes: more delay, later and
better text; measured first deltas came 0.5-1.4 s after speech onset). No ``delay`` means
:data:`DEFAULT_DELAY`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SHUTDOWN = "2027-02-26"


@dataclass(frozen=True, slots=True)
class FakeModel:
    """One transcription model as the fake serves it.

    Attributes:
        name: the model id.
        streaming: deltas while audio is appended; needs ``turn_detection: null``.
        prompt: accepts ``prompt``.
        keywords: accepts ``keywords``.
        languages: accepts ``languages``.
        delay: accepts ``delay``.
        billing: the ``completed.usage`` type it reports (``duration`` or ``tokens``).
        whole_turn_delta: sends the whole transcript as one delta (``whisper-1``).
        shutdown: the announced shutdown date, if deprecated.
    """

    name: str
    streaming: bool = False
    prompt: bool = True
    keywords: bool = False
    languages: bool = False
    delay: bool = False
    billing: Literal["duration", "tokens"] = "tokens"
    whole_turn_delta: bool = False
    shutdown: str | None = None

    def supports(self, field: str) -> bool:
        """Whether ``field`` of ``audio.input.transcription`` is accepted (``model`` and
        ``language`` always are)."""
        return field not in OPTIONAL_FIELDS or bool(getattr(self, field))


MODELS: dict[str, FakeModel] = {
    model.name: model
    for model in (
        FakeModel("whisper-1", billing="duration", whole_turn_delta=True, shutdown=SHUTDOWN),
        FakeModel("gpt-4o-mini-transcribe", shutdown=SHUTDOWN),
        FakeModel("gpt-4o-mini-transcribe-2025-12-15", shutdown=SHUTDOWN),
        FakeModel("gpt-4o-transcribe", shutdown=SHUTDOWN),
        FakeModel("gpt-4o-transcribe-diarize", prompt=False, shutdown=SHUTDOWN),
        FakeModel("gpt-transcribe", keywords=True, languages=True),
        FakeModel(
            "gpt-live-transcribe",
            streaming=True,
            keywords=True,
            languages=True,
            delay=True,
            billing="duration",
        ),
        FakeModel(
            "gpt-realtime-whisper", streaming=True, prompt=False, delay=True, billing="duration"
        ),
    )
}
"""Every model the fake accepts, by id; any other id is refused."""

OPTIONAL_FIELDS = ("prompt", "keywords", "languages", "delay")
"""The ``audio.input.transcription`` fields only some models accept, in the order checked."""

FIRST_DELTA_S: dict[str, float] = {
    "minimal": 0.3,
    "low": 0.5,
    "medium": 0.8,
    "high": 1.2,
    "xhigh": 1.6,
}
"""Voiced audio (seconds) a streaming model buffers before its first delta, per ``delay``."""

DEFAULT_DELAY = "low"
"""The ``delay`` a streaming model uses when none is configured."""
