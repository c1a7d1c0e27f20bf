"""The engine interface: what the service needs from any speech-to-text backend.

An engine is loaded once per process (:meth:`TranscriptionEngine.start`) and opens one
:class:`EngineSession` per client connection. A session takes PCM16 mono audio at the engine's
declared :attr:`EngineCapabilities.input_sample_rate` and yields typed events. All times in
events are seconds of the audio pushed into that session, counted from its first sample.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """Utterance ``segment_id`` began at ``start_s``."""

    segment_id: int
    start_s: float


@dataclass(frozen=True, slots=True)
class Partial:
    """The current guess for utterance ``segment_id``, covering ``start_s``..``end_s``."""

    segment_id: int
    text: str
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class WordTiming:
    """One recognised word with its times."""

    word: str
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class Final:
    """The closing text of utterance ``segment_id``; an engine sends exactly one per segment."""

    segment_id: int
    text: str
    start_s: float
    end_s: float
    words: tuple[WordTiming, ...] | None = None


@dataclass(frozen=True, slots=True)
class EngineError:
    """A problem inside the engine.

    Attributes:
        code: stable machine-readable code, forwarded to the client.
        message: a sentence for people.
        fatal: the session cannot go on; the event stream ends after this event.
        segment_id: the utterance concerned, if any.
    """

    code: str
    message: str
    fatal: bool = False
    segment_id: int | None = None


EngineEvent = SpeechStarted | Partial | Final | EngineError


@dataclass(frozen=True, slots=True)
class EngineCapabilities:
    """What an engine declares about itself; the service adapts to it rather than probing types.

    Attributes:
        input_sample_rate: the rate of the PCM16 audio that :meth:`EngineSession.push_audio` takes.
        interim_results: whether it sends :class:`Partial` events.
        word_timestamps: whether finals carry word timings.
        speech_events: whether it sends :class:`SpeechStarted`.
        default_max_sessions: the session limit of one process when ``MAX_SESSIONS`` is not set:
            what one process of this engine holds on a 2-core machine (see BENCHMARKS.md).
    """

    input_sample_rate: int
    interim_results: bool
    word_timestamps: bool
    speech_events: bool = True
    default_max_sessions: int = 8


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """Per-connection options chosen by the client."""

    session_id: str
    language: str
    options: dict[str, str] = field(default_factory=dict)


class EngineSession(Protocol):
    """**Protocol**: one client's stream of audio in and events out.

    Audio methods never block: they queue work for the session's own task. After
    :meth:`end_input` the session finishes everything already pushed, yields every remaining
    :class:`Final`, and then the iteration stops. A fatal :class:`EngineError` also ends it.
    """

    def push_audio(self, pcm: bytes) -> None:
        """Queue PCM16 little-endian mono audio (an even number of bytes) at the input rate."""

    async def wait_for_room(self) -> None:
        """Return once the audio queued but not yet processed is below the session's limit.

        The shell awaits this before it reads the next client frame, so a client that sends
        faster than the engine works is slowed down by TCP backpressure instead of failing.
        """

    @property
    def has_room(self) -> bool:
        """Whether :meth:`wait_for_room` would return at once: the shell then skips the wait,
        and the stall timer around it, for the frame (the common case, once per frame)."""

    def flush(self) -> None:
        """Finalize the utterance in progress as soon as the audio pushed so far is processed."""

    def end_input(self) -> None:
        """No more audio will come; further :meth:`push_audio` calls are ignored."""

    def __aiter__(self) -> AsyncIterator[EngineEvent]:
        """Iterate over the session's events until it ends."""


class TranscriptionEngine(Protocol):
    """**Protocol**: a loaded speech-to-text backend shared by all sessions of a process."""

    @property
    def name(self) -> str:
        """Short engine name shown to clients (``local``, ``openai``)."""

    @property
    def model(self) -> str:
        """The model in use, as shown to clients."""

    @property
    def capabilities(self) -> EngineCapabilities:
        """What the engine declares about itself."""

    @property
    def ready(self) -> bool:
        """True once :meth:`start` has finished and sessions can be opened."""

    async def start(self) -> None:
        """Load models or check configuration; may take seconds. Raises if the engine cannot run."""

    async def aclose(self) -> None:
        """Release what :meth:`start` acquired."""

    def open_session(self, config: SessionConfig) -> AbstractAsyncContextManager[EngineSession]:
        """Open a session; leaving the context stops its work and frees its resources."""
