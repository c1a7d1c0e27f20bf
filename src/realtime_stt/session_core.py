"""The sans-I/O heart of one ``/ws`` session: bytes and engine events in, actions out.

:class:`SessionCore` owns the protocol rules and does no I/O: the route feeds it what arrives
(:meth:`~SessionCore.receive_bytes`, :meth:`~SessionCore.receive_text`,
:meth:`~SessionCore.engine_event`, :meth:`~SessionCore.engine_finished`) and carries out the
returned :data:`Action` list in order. It can be tested with no socket and no event loop.

Rules it enforces:
- audio frames over the size limit get ``frame_too_large`` and a 1009 close; empty frames are
  ignored; an odd trailing byte is carried into the next frame;
- invalid text frames get an ``error`` and the session goes on;
- ``ts`` comes from sample counts: it never exceeds the audio received, never runs backwards, and a
  segment keeps the start it was first given;
- exactly one final per segment: events for a closed segment are dropped, and segments still open
  when the engine stops are closed with an empty final;
- ``end`` (or the session length limit) ends the engine's input; the close (1000) comes only after
  the engine has delivered every final;
- :meth:`SessionCore.shutdown` (the server is stopping) moves to its own state, ``DRAINING``: the
  client is told once (``shutting_down``), later audio and control messages are ignored without
  another word, and the close after the finals is 1001;
- :meth:`SessionCore.idle_timeout` (no audio for ``IDLE_TIMEOUT_S``) tells the client
  (``idle_timeout``), ends the input, and closes with 1008 after the finals;
- :meth:`SessionCore.client_not_reading` (a message did not fit in the client's outbox, which
  only happens when it is full of messages that are never dropped) closes at once with 1008
  ``client_too_slow``: the client is not reading, so telling it is pointless.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from realtime_stt import wire
from realtime_stt.audio import Int16Array, SampleFramer
from realtime_stt.engine import protocol as engine

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011
CLOSE_TRY_AGAIN = 1013


@dataclass(frozen=True, slots=True)
class Send:
    """Queue ``message`` for the client."""

    message: wire.Ready | wire.SpeechStarted | wire.Partial | wire.Final | wire.Error


@dataclass(frozen=True, slots=True)
class PushAudio:
    """Give ``samples`` (PCM16 at the client's sample rate) to the engine."""

    samples: Int16Array


@dataclass(frozen=True, slots=True)
class FlushEngine:
    """Ask the engine to finalize the utterance in progress."""


@dataclass(frozen=True, slots=True)
class EndEngineInput:
    """Tell the engine no more audio will come."""


@dataclass(frozen=True, slots=True)
class Close:
    """Close the WebSocket with ``code`` once every queued message is sent."""

    code: int
    reason: str


Action = Send | PushAudio | FlushEngine | EndEngineInput | Close


class State(enum.Enum):
    """Where the session is: taking audio; finishing after the client's ``end`` (or a limit);
    finishing because the server is stopping; or closed."""

    OPEN = "open"
    ENDING = "ending"
    DRAINING = "draining"
    CLOSED = "closed"


@dataclass(slots=True)
class _Segment:
    start_s: float
    end_s: float


@dataclass(slots=True)
class SessionCore:
    """Protocol state of one session; see the module docstring for the rules."""

    session_id: str
    sample_rate: int
    max_frame_bytes: int
    max_session_seconds: float
    state: State = State.OPEN
    received_samples: int = 0
    _framer: SampleFramer = field(default_factory=SampleFramer)
    _open: dict[int, _Segment] = field(default_factory=dict)
    _closed_below: int = 0
    _floor_s: float = 0.0
    _told_after_end: bool = False
    _close_code: int = CLOSE_NORMAL
    _close_reason: str = "end of input"

    @property
    def received_seconds(self) -> float:
        """Seconds of audio received from the client so far."""
        return self.received_samples / self.sample_rate

    # -- client side -------------------------------------------------------------------------

    def receive_bytes(self, data: bytes) -> list[Action]:
        """Handle one binary frame of PCM16 audio."""
        if self.state is State.CLOSED:
            return []
        if len(data) > self.max_frame_bytes:
            return self._fail(
                "frame_too_large",
                f"frames may hold at most {self.max_frame_bytes} bytes; got {len(data)}",
                CLOSE_TOO_BIG,
            )
        if not data or self.state is State.DRAINING:
            return []
        if self.state is State.ENDING:
            return self._after_end()
        samples = self._framer.feed(data)
        if samples.size == 0:
            return []
        limit = int(self.max_session_seconds * self.sample_rate)
        room = limit - self.received_samples
        actions: list[Action] = []
        if samples.size > room:
            samples = samples[:room]
        if samples.size:
            self.received_samples += int(samples.size)
            actions.append(PushAudio(samples))
        if self.received_samples >= limit:
            message = f"sessions may last at most {self.max_session_seconds:g} s of audio"
            actions += [Send(wire.Error(code="session_too_long", message=message))]
            self._told_after_end = True  # later audio is dropped without another error
            actions += self._end_input()
        return actions

    def receive_text(self, text: str) -> list[Action]:
        """Handle one text frame: a JSON control message."""
        if self.state is State.CLOSED:
            return []
        if len(text.encode()) > self.max_frame_bytes:
            return self._fail("frame_too_large", "text frame over the size limit", CLOSE_TOO_BIG)
        try:
            control = wire.parse_control(text)
        except wire.ControlError as exc:
            return [Send(wire.Error(code=exc.code, message=str(exc)))]
        if self.state is State.DRAINING:
            return []
        if self.state is State.ENDING:
            return [Send(wire.Error(code="already_ended", message="input has already ended"))]
        if isinstance(control, wire.Flush):
            return [FlushEngine()]
        return self._end_input()

    def shutdown(self) -> list[Action]:
        """The server is stopping: tell the client, end the input, close with 1001 after the
        finals. A session already ending only changes its close code."""
        if self.state in {State.CLOSED, State.DRAINING}:
            return []
        self._close_code, self._close_reason = CLOSE_GOING_AWAY, "server shutting down"
        if self.state is State.ENDING:
            return []
        self.state = State.DRAINING
        message = (
            "the server is shutting down: audio from now on is ignored; the remaining finals "
            "follow, then close 1001; reconnect to go on"
        )
        return [Send(wire.Error(code="shutting_down", message=message)), EndEngineInput()]

    def idle_timeout(self, seconds: float) -> list[Action]:
        """No audio came for ``seconds``: tell the client, end the input, close with 1008 after
        the finals. Only while the session takes audio."""
        if self.state is not State.OPEN:
            return []
        self._close_code, self._close_reason = CLOSE_POLICY, "idle timeout"
        self._told_after_end = True  # audio that crosses the close is dropped without a word
        message = f"no audio for {seconds:g} s; the session is closed"
        return [Send(wire.Error(code="idle_timeout", message=message)), *self._end_input()]

    def client_not_reading(self) -> list[Action]:
        """A message could not be queued for the client: close with 1008 (no more audio is
        taken and no more events are sent)."""
        if self.state is State.CLOSED:
            return []
        return self._close(CLOSE_POLICY, "client_too_slow")

    # -- engine side -------------------------------------------------------------------------

    def engine_event(self, event: engine.EngineEvent) -> list[Action]:
        """Turn one engine event into messages for the client."""
        if self.state is State.CLOSED:
            return []
        if isinstance(event, engine.EngineError):
            error = wire.Error(code=event.code, message=event.message, segment_id=event.segment_id)
            if event.fatal:
                return [Send(error), *self._close_open_segments(), *self._close(CLOSE_INTERNAL)]
            return [Send(error)]
        if event.segment_id < self._closed_below and event.segment_id not in self._open:
            return []
        if isinstance(event, engine.SpeechStarted):
            segment = self._segment(event.segment_id, event.start_s, event.start_s)
            return [Send(wire.SpeechStarted(segment_id=event.segment_id, ts=self._span(segment)))]
        segment = self._segment(event.segment_id, event.start_s, event.end_s)
        if isinstance(event, engine.Partial):
            span = self._span(segment)
            return [Send(wire.Partial(segment_id=event.segment_id, text=event.text, ts=span))]
        return [Send(self._finish(event.segment_id, event.text, event.words))]

    def engine_finished(self) -> list[Action]:
        """The engine's event stream ended: close, cleanly if input had ended."""
        if self.state is State.CLOSED:
            return []
        if self.state in {State.ENDING, State.DRAINING}:
            return [
                *self._close_open_segments(),
                *self._close(self._close_code, self._close_reason),
            ]
        error = wire.Error(code="engine_stopped", message="the transcription engine stopped")
        return [Send(error), *self._close_open_segments(), *self._close(CLOSE_INTERNAL)]

    # -- helpers -----------------------------------------------------------------------------

    def _segment(self, segment_id: int, start_s: float, end_s: float) -> _Segment:
        segment = self._open.get(segment_id)
        heard = self.received_seconds
        if segment is None:
            start = min(max(start_s, self._floor_s), heard)
            segment = self._open[segment_id] = _Segment(start, start)
        segment.end_s = min(max(end_s, segment.end_s, segment.start_s), heard)
        return segment

    @staticmethod
    def _span(segment: _Segment) -> wire.Span:
        return wire.Span(start_s=round(segment.start_s, 3), end_s=round(segment.end_s, 3))

    def _finish(
        self, segment_id: int, text: str, words: tuple[engine.WordTiming, ...] | None
    ) -> wire.Final:
        segment = self._open.pop(segment_id)
        self._closed_below = max(self._closed_below, segment_id + 1)
        self._floor_s = max(self._floor_s, segment.end_s)
        wire_words = None
        if words is not None:
            wire_words, cursor = [], segment.start_s
            for w in words:
                start = min(max(w.start_s, cursor), segment.end_s)
                end = min(max(w.end_s, start), segment.end_s)
                wire_words.append(
                    wire.Word(word=w.word.strip(), start_s=round(start, 3), end_s=round(end, 3))
                )
                cursor = start
        return wire.Final(
            segment_id=segment_id, text=text, ts=self._span(segment), words=wire_words
        )

    def _close_open_segments(self) -> list[Action]:
        return [Send(self._finish(segment_id, "", None)) for segment_id in sorted(self._open)]

    def _end_input(self) -> list[Action]:
        if self.state is not State.OPEN:
            return []
        self.state = State.ENDING
        return [EndEngineInput()]

    def _after_end(self) -> list[Action]:
        if self._told_after_end:
            return []
        self._told_after_end = True
        message = "audio after end is ignored"
        return [Send(wire.Error(code="audio_after_end", message=message))]

    def _fail(self, code: str, message: str, close_code: int) -> list[Action]:
        return [Send(wire.Error(code=code, message=message)), *self._close(close_code)]

    def _close(self, code: int, reason: str = "") -> list[Action]:
        self.state = State.CLOSED
        return [Close(code, reason)]
