"""Our turns, written upstream: the audio history, appends, commits, and what a resend needs.

:class:`TurnSender` carries out the :class:`~.turns.TurnPlanner`'s decisions on a connection for a
client-commit session: it keeps every 24-kHz sample the session received (sent or not) in an
:class:`~.history.AudioHistory`, appends ranges of it, commits turns (padding a turn under the
100 ms upstream requires with silence), and records each commit with the
:class:`~.client_transcript.ClientTranscript`. The history is trimmed to what a resend or a
pre-roll could still need.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from realtime_stt.engine.protocol import EngineEvent
from realtime_stt.openai_engine import events
from realtime_stt.openai_engine.client_transcript import ClientTranscript
from realtime_stt.openai_engine.connection import Upstream
from realtime_stt.openai_engine.history import AudioHistory
from realtime_stt.openai_engine.tuning import MIN_COMMIT_SAMPLES
from realtime_stt.openai_engine.turns import RATE, Commit, Decision, Open, Send
from realtime_stt.openai_engine.usage import SessionUsage

_SEND_MAX = RATE
"""Samples per append at most (1 s): resends and pre-rolls go out in pieces of this size."""
_KEEP_S = 3.0
"""History kept behind the newest audio for a pre-roll, whatever is owed."""


class TurnSender:
    """Writes one session's turns upstream; positions are 24-kHz session samples."""

    def __init__(
        self, transcript: ClientTranscript, usage: SessionUsage, max_resend_s: float
    ) -> None:
        self.history = AudioHistory()
        self._transcript = transcript
        self._usage = usage
        self._max_resend = int(max_resend_s * RATE)
        self._next_commit = 0

    async def apply(self, decisions: Sequence[Decision], link: Upstream) -> list[EngineEvent]:
        """Carry out ``decisions`` on ``link``; the events they cause (speech started)."""
        produced: list[EngineEvent] = []
        for decision in decisions:
            if isinstance(decision, Open):
                produced += self._transcript.opened(
                    decision.segment, decision.start, decision.start_s, link.gen
                )
            elif isinstance(decision, Send):
                await self.send(link, decision.start, decision.stop)
            elif isinstance(decision, Commit):
                await self.commit(link, decision.segment, decision.end, decision.end_s)
        return produced

    async def send(self, link: Upstream, start: int, stop: int) -> None:
        """Append history ``[start, stop)`` (what is still kept of it) on ``link``."""
        position = start
        while position < stop:
            chunk = self.history.slice(position, min(stop, position + _SEND_MAX))
            if not chunk:
                return
            position += len(chunk) // 2
            self._usage.sent(len(chunk) / 2 / RATE)
            frame = events.append_event(chunk)
            if link.writable:  # the common case: no drain, no send context (see Upstream)
                link.send_nowait(frame)
            elif not await link.send(frame):
                return

    async def commit(self, link: Upstream, segment: int, end: int, end_s: float) -> None:
        """Commit turn ``segment`` (its audio ends at ``end``) on ``link``."""
        turn = self._transcript.turn(segment)
        if turn is None:
            return
        short = MIN_COMMIT_SAMPLES - (end - turn.start)
        if short > 0:  # upstream refuses a commit of under 100 ms: pad it with silence
            self._usage.sent(short / RATE)
            await link.send(events.append_event(bytes(2 * short)))
        event_id = f"commit_{link.gen}_{self._next_commit}"
        self._next_commit += 1
        self._transcript.committing(segment, end, end_s, event_id, link.gen, time.monotonic())
        await link.send(events.commit_event(event_id))

    def trim(self, sent_to: int) -> None:
        """Forget audio no resend or pre-roll can need (``sent_to``: the planner's position)."""
        end = self.history.end
        floor = min(sent_to, end - int(_KEEP_S * RATE))
        starts = [turn.start for turn in self._transcript.turns()]
        if starts:
            floor = min(floor, *starts)
        self.history.trim_before(max(floor, end - self._max_resend))
