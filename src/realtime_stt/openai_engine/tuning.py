"""Timeouts, back-off, rotation and buffer limits of the OpenAI engine.

The module constants are the production defaults; :class:`Tuning` bundles them so a test (or
an operator) passes smaller values to :class:`~realtime_stt.openai_engine.engine.OpenAIEngine`
instead of patching globals. Every wait the engine makes is bounded by one of these numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

SAMPLE_RATE = 24_000
"""The only PCM rate the GA Realtime API accepts; the service resamples to it before the engine."""

MIN_COMMIT_SAMPLES = SAMPLE_RATE // 10
"""Upstream refuses a commit of less than 100 ms (``input_audio_buffer_commit_empty``)."""

RETRY_CLOSE_CODES = frozenset({1001, 1005, 1006, 1011, 1012, 1013, 1015})
"""Close codes after which the engine reconnects (the SDK's list); others end the session."""

CONNECT_TIMEOUT_S = 10.0
BACKOFF_INITIAL_S = 0.2
BACKOFF_MAX_S = 5.0
MAX_ATTEMPTS = 5
RETRY_WINDOW_S = 30.0
"""``OPENAI_RETRY_WINDOW_S``'s default: how long an outage is retried in production."""
STABLE_AFTER_S = 10.0
FINAL_TIMEOUT_S = 10.0
ROTATE_AFTER_S = 55 * 60.0
ROTATE_GRACE_S = 2 * 60.0
APPEND_MS = 100
LINGER_S = 0.1
TAIL_RESEND_S = 1.0
MAX_RESEND_S = 60.0
MAX_BACKLOG_S = 60.0
ROOM_S = 5.0
CLOSE_TIMEOUT_S = 2.0
SILENCE_RMS = 0.003
EVENT_BUFFER = 64


@dataclass(frozen=True, slots=True)
class Tuning:
    """Knobs of the OpenAI engine; defaults are the module constants.

    Attributes:
        connect_timeout_s: one connection attempt, from TCP connect to ``session.updated``.
        backoff_initial_s: pause after the first failed attempt; doubles per failure.
        backoff_max_s: the longest pause between two attempts.
        max_attempts: attempts per outage before ``upstream_unavailable`` ends the session; also
            how many times in a row a connection may drop within ``stable_after_s`` of opening.
        retry_window_s: an outage is retried (jittered back-off) until at least this long has
            passed since its first attempt, whatever ``max_attempts`` says; meanwhile the
            session takes audio up to ``max_backlog_s - room_s`` queued (see
            :meth:`room_samples`). 0, the default here, leaves ``max_attempts`` alone; the
            engine built from the settings uses ``OPENAI_RETRY_WINDOW_S`` (:data:`RETRY_WINDOW_S`).
        stable_after_s: a connection that lived this long resets the drop count.
        final_timeout_s: after ``end_input`` (or a rotation), the wait for outstanding finals.
        rotate_after_s: open a fresh upstream connection after this long (upstream caps at 60 min).
        rotate_grace_s: after ``rotate_after_s``, wait at most this long for a pause in speech.
        append_ms: audio per ``input_audio_buffer.append`` event (see ``AudioUplink`` for the
            tolerance around it).

        linger_s: a partial append waits this long for more audio before it is sent anyway.
        tail_resend_s: audio resent to a new connection when no utterance is owed (VAD context).
        max_resend_s: the most uncommitted audio kept for resending after a drop.
        room_s: ``wait_for_room`` holds the client back while more than this is queued unsent.
        max_backlog_s: queued, unsent audio beyond this ends the session (``engine_overloaded``);
            only a caller that ignores ``wait_for_room`` can get there.
        close_timeout_s: the longest wait for a WebSocket closing handshake.
        silence_rms: an item that our own commit created without ``speech_started``, whose
            every 10 ms frame is below this RMS (full scale 1.0; 0.003 is about -50 dBFS), is
            dropped instead of becoming an (empty or hallucinated) utterance; 0 keeps them all.
        event_buffer: engine events buffered for the consumer; partials are dropped when it is full.
    """

    connect_timeout_s: float = CONNECT_TIMEOUT_S
    backoff_initial_s: float = BACKOFF_INITIAL_S
    backoff_max_s: float = BACKOFF_MAX_S
    max_attempts: int = MAX_ATTEMPTS
    retry_window_s: float = 0.0
    stable_after_s: float = STABLE_AFTER_S
    final_timeout_s: float = FINAL_TIMEOUT_S
    rotate_after_s: float = ROTATE_AFTER_S
    rotate_grace_s: float = ROTATE_GRACE_S
    append_ms: int = APPEND_MS
    linger_s: float = LINGER_S
    tail_resend_s: float = TAIL_RESEND_S
    max_resend_s: float = MAX_RESEND_S
    room_s: float = ROOM_S
    max_backlog_s: float = MAX_BACKLOG_S
    close_timeout_s: float = CLOSE_TIMEOUT_S
    silence_rms: float = SILENCE_RMS
    event_buffer: int = EVENT_BUFFER

    def room_samples(self, rate: int, *, connecting: bool) -> int:
        """Queued audio (samples at ``rate``) above which ``wait_for_room`` holds the client:
        ``room_s``, or while a connection is being opened, all but ``room_s`` of
        ``max_backlog_s``, so a client is not held (and so failed by the service's stall bound)
        while an outage is retried."""
        seconds = max(self.room_s, self.max_backlog_s - self.room_s) if connecting else self.room_s
        return int(seconds * rate)

    def backoff(self, failures: int) -> float:
        """The pause before the next attempt after ``failures`` (≥ 1) consecutive failures."""
        return min(self.backoff_max_s, self.backoff_initial_s * 2.0 ** max(0, failures - 1))
