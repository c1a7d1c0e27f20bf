"""What the fake server should do (:class:`Scenario`) and what it saw (the record types)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel

from .audio import RATE
from .validation import Problem

M = TypeVar("M", bound=BaseModel)


def transcript_for(frequency: float | None) -> str:
    """The default "transcription": the tone's frequency to the nearest 10 Hz, or "" if none."""
    if frequency is None:
        return ""
    return f"tone {round(frequency / 10) * 10} hz"


def sentences(script: Mapping[int, str]) -> Callable[[float | None], str]:
    """A ``Scenario.transcribe`` that says ``script[f]`` for a tone of ``f`` Hz (to the nearest
    10 Hz) and falls back to :func:`transcript_for` for other tones.

    ``Scenario(transcribe=sentences({440: "the quick brown fox jumps over the lazy dog"}))``
    makes a 440 Hz tone a nine-word sentence, which a streaming model sends word by word while
    the tone is appended (all but its last word before the commit).
    """

    def transcribe(frequency: float | None) -> str:
        if frequency is None:
            return ""
        return script.get(round(frequency / 10) * 10) or transcript_for(frequency)

    return transcribe


@dataclass
class Scenario:
    """Switches for the fake server; the defaults describe a healthy upstream.

    Attributes:
        api_key: the only key accepted (anything else: HTTP 401).
        refuse_status: refuse every handshake with this HTTP status.
        stall: accept the WebSocket but never send anything.
        stall_transcription: VAD and commits work, no text ever arrives (no streamed deltas,
            no post-commit deltas, no ``completed``).
        completion_delay_s: delay from commit to the first post-commit delta of every turn.
        extra_delay_s: additional delay per turn index (turns count commits across connections).
        fail_turns: turn indexes that get ``...transcription.failed`` instead of text.
        stall_turns: turn indexes that are committed but never complete (no post-commit delta,
            no ``completed``, no ``failed``): for final-timeout watchdogs.
        error_after_appends: on connection 0, send an ``error`` event after this many appends.
        drop_after_appends: drop a connection after this many appends on it.
        drops: how many connections (the first ones) ``drop_after_appends`` applies to.
        drop_close_code: close with this code instead of aborting the TCP connection (1006).
        session_expiry_s: send ``session_expired`` and close (1000) after this long.
        models: if set, a ``session.update`` naming another transcription model is refused
            (``invalid_value`` on ``session.audio.input.transcription.model``).
        vad_threshold: RMS (full scale 1.0) at which a 10 ms frame counts as speech.
        transcribe: dominant frequency of a turn's voiced audio (None: no voice) to its text
            (see :func:`sentences` for multi-word scripts). Streaming models apply it to the
            voiced audio of the uncommitted buffer so far, too.
        first_delta_s: voiced audio a streaming model buffers before its first delta; ``None``
            takes it from the session's ``delay`` (:data:`~tests.openai_fake.models.FIRST_DELTA_S`).
        word_s: further voiced audio per streamed word after the first (streaming models).
    """

    api_key: str = "sk-test-key"
    refuse_status: int | None = None
    stall: bool = False
    stall_transcription: bool = False
    completion_delay_s: float = 0.01
    extra_delay_s: dict[int, float] = field(default_factory=dict)
    fail_turns: frozenset[int] = frozenset()
    stall_turns: frozenset[int] = frozenset()
    error_after_appends: int | None = None
    drop_after_appends: int | None = None
    drops: int = 1
    drop_close_code: int | None = None
    session_expiry_s: float | None = None
    models: frozenset[str] | None = None
    vad_threshold: float = 0.02
    transcribe: Callable[[float | None], str] = transcript_for
    first_delta_s: float | None = None
    word_s: float = 0.25


@dataclass(frozen=True, slots=True)
class Handshake:
    """One HTTP upgrade request and the status it got (101 when accepted)."""

    path: str
    headers: dict[str, str]
    status: int


@dataclass(frozen=True, slots=True)
class Turn:
    """One committed item: where it was, what the fake heard in it, and the text it scripted.

    ``seconds`` is the length of the committed audio (what duration billing rounds up).
    """

    connection: int
    item_id: str
    index: int
    start_ms: int | None
    end_ms: int
    frequency: float | None
    voiced_ms: int
    text: str
    seconds: float = 0.0


@dataclass
class ConnectionRecord:
    """Everything one accepted WebSocket connection received and sent.

    ``audio`` is every byte appended (24 kHz PCM16); ``billed_s`` sums the ``seconds`` of the
    duration ``usage`` it sent.
    """

    index: int
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    received: list[BaseModel] = field(default_factory=list)
    refused: list[tuple[str | bytes, Problem]] = field(default_factory=list)
    sent: list[BaseModel] = field(default_factory=list)
    audio: bytearray = field(default_factory=bytearray)
    append_sizes: list[int] = field(default_factory=list)
    close_code: int | None = None
    billed_s: float = 0.0

    @property
    def appended_s(self) -> float:
        """Seconds of audio appended on this connection (what upstream bills streaming models)."""
        return len(self.audio) / 2 / RATE

    def received_types(self) -> list[str]:
        """``type`` of every valid client event, in arrival order."""
        return [str(getattr(event, "type", "")) for event in self.received]

    def sent_types(self) -> list[str]:
        """``type`` of every server event sent, in order."""
        return [str(getattr(event, "type", "")) for event in self.sent]

    def sent_of(self, kind: type[M]) -> list[M]:
        """The server events of one SDK type, in order."""
        return [event for event in self.sent if isinstance(event, kind)]

    def received_of(self, kind: type[M]) -> list[M]:
        """The client events of one SDK type, in order."""
        return [event for event in self.received if isinstance(event, kind)]
