"""One client's OpenAI session with client commits: our VAD ends turns, upstream only transcribes.

Used when the turn detection in use is ``client`` (always for the streaming models). Audio comes
in at 16 kHz; the :class:`~.scoring.ScoringThread` resamples it to 24 kHz and scores it off the
loop; the :class:`~.turns.TurnPlanner` decides what to append and when to commit; the
:class:`~.client_transcript.ClientTranscript` turns upstream's text into partials and finals of
our segments. One driver task applies the decisions in order; one reader task per connection
feeds upstream events to the transcript.

Faults:

* A dropped connection (a close code in ``RETRY_CLOSE_CODES``, no close frame, or after
  ``session_expired``) is replaced, and every turn it still owed is sent again from the audio
  history: committed turns with their commits, the open one up to where it had got. A rotated-out
  connection that drops while finishing gives its turns ``upstream_lost`` and their text so far.
* A turn whose ``completed`` does not come within ``final_timeout_s`` of its commit gets
  ``final_timeout`` and a final with its text so far; the turns after it go on.
* Rotation: after ``rotate_after_s``, between turns (or after ``rotate_grace_s`` by committing
  the turn in progress), a new connection takes over; the old one finishes its turns and closes.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import anyio
import anyio.abc
from openai.types.realtime import (
    ConversationItemInputAudioTranscriptionCompletedEvent,
    RealtimeServerEvent,
)

from realtime_stt.engine.protocol import EngineError
from realtime_stt.engine.running import BaseSession, FatalError
from realtime_stt.openai_engine.alarm import Alarm
from realtime_stt.openai_engine.client_transcript import ClientTranscript
from realtime_stt.openai_engine.config import TranscriptionConfig
from realtime_stt.openai_engine.connection import (
    Target,
    Upstream,
    UpstreamRejectedError,
    drops_after_loss,
    open_upstream,
)
from realtime_stt.openai_engine.scoring import END, FAILED, Scored, ScoringLane, ScoringThread
from realtime_stt.openai_engine.tuning import Tuning
from realtime_stt.openai_engine.turn_sender import TurnSender
from realtime_stt.openai_engine.turns import RATE, Decision, TurnPlanner
from realtime_stt.openai_engine.usage import SessionUsage

log = logging.getLogger(__name__)
FLUSH = object()


class ClientCommitSession(BaseSession):
    """Implements ``EngineSession`` (16-kHz input); run it inside :meth:`running`."""

    def __init__(
        self,
        target: Target,
        tuning: Tuning,
        config: TranscriptionConfig,
        scoring: ScoringThread,
        usage: SessionUsage,
    ) -> None:
        super().__init__(sample_rate=RATE, event_buffer=tuning.event_buffer)
        self._target = target
        self._tuning = tuning
        self._scoring = scoring
        self._usage = usage
        self._planner = TurnPlanner(
            threshold=config.vad_threshold,
            commit_silence_ms=config.commit_silence_ms,
            speech_pad_ms=config.speech_pad_ms,
            max_utterance_s=config.max_utterance_s,
        )
        self._transcript = ClientTranscript(tuning.final_timeout_s)
        self._sender = TurnSender(self._transcript, usage, tuning.max_resend_s)
        self._wake = Alarm()
        self._inbox: deque[Scored] = deque()
        self._inbox_samples = 0
        """24-kHz samples in :attr:`_inbox`."""
        self._lane: ScoringLane | None = None
        self._connecting = False
        self._ended = False
        self._ending = False
        self._overflow = False
        self._end_deadline = 0.0
        self._link: Upstream | None = None
        self._draining: list[Upstream] = []
        self._links: list[Upstream] = []
        self._live: set[int] = set()
        self._next_gen = 0
        self._drops = 0
        self.received_s = 0.0

    # -- EngineSession -------------------------------------------------------------------------

    def push_audio(self, pcm: bytes) -> None:
        """Queue PCM16 LE mono 16-kHz audio (a trailing odd byte is dropped); ignored after end."""
        pcm = pcm[: len(pcm) - len(pcm) % 2]
        if self._ended or self._overflow or not pcm or self._lane is None:
            return
        samples = len(pcm) // 2
        self.received_s += samples / 16_000
        self._sink.pushed += samples * 3 // 2
        self._lane.submit(pcm)
        self._check_backlog()

    def flush(self) -> None:
        """Commit the turn in progress once the audio before it is scored."""
        if not self._ended and self._lane is not None:
            self._lane.mark(FLUSH)

    def end_input(self) -> None:
        """Commit what remains, then end the stream once every final is out (bounded wait)."""
        if not self._ended and self._lane is not None:
            self._ended = True
            self._lane.mark(END)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the session (see :class:`BaseSession`), with its lane into the scoring thread."""
        self._lane = self._scoring.lane(self._on_scored)
        async with super().running():
            yield

    def _release(self) -> None:
        if self._lane is not None:
            self._lane.close()
        self._wake.cancel()
        log.info("session usage: %s", self._usage.summary(self.received_s))

    # -- audio in ------------------------------------------------------------------------------

    def _on_scored(self, result: Scored) -> None:
        self._inbox.append(result)
        self._inbox_samples += len(result.pcm24) // 2
        self._wake.ring()

    def _backlog(self) -> int:
        """24-kHz samples pushed but not yet through the planner."""
        queued = self._lane.queued * 3 // 2 if self._lane is not None else 0
        return queued + self._inbox_samples

    def _check_backlog(self) -> None:
        backlog = self._backlog()
        if backlog > self._tuning.max_backlog_s * RATE:
            self._overflow = True
            self._wake.ring()
        if backlog > self._tuning.room_samples(RATE, connecting=self._connecting):
            self._room.clear()
        else:
            self._room.set()

    # -- driver --------------------------------------------------------------------------------

    async def _wind_up(self, errors: list[EngineError]) -> None:
        for link in self._links:
            await link.aclose(self._tuning.close_timeout_s)
        if errors:
            await self._sink.emit_all([*self._transcript.abandon_all(None), *errors])

    async def _drive(self) -> None:
        self._link = await self._open()
        while True:
            self._wake.reset()
            now = time.monotonic()
            if self._overflow:
                message = "audio arrives faster than it can be sent upstream"
                raise FatalError(EngineError("engine_overloaded", message, fatal=True))
            await self._check_draining()
            link = self._link
            if link.lost:
                await self._reconnect(link)
                continue
            await self._sink.emit_all(self._transcript.overdue(now))
            if self._inbox:
                scored = self._inbox.popleft()
                self._inbox_samples -= len(scored.pcm24) // 2
                await self._process(scored, link)
                continue
            if self._ending:
                if self._transcript.idle():
                    return
                if now >= self._end_deadline:
                    error = EngineError("final_timeout", "upstream did not finish every final")
                    await self._sink.emit_all(self._transcript.abandon_all(error))
                    return
            elif self._rotation_due(link, now):
                await self._rotate(link)
                continue
            await self._sleep(now)

    async def _sleep(self, now: float) -> None:
        deadlines = [now + 5.0]
        overdue = self._transcript.next_deadline()
        if overdue is not None:
            deadlines.append(overdue)
        if self._ending:
            deadlines.append(self._end_deadline)
        elif self._link is not None:
            rotate_at = self._link.opened_at + self._tuning.rotate_after_s
            if now >= rotate_at:
                rotate_at += self._tuning.rotate_grace_s
            deadlines.append(rotate_at)
        await self._wake.wait(min(deadlines), now)

    async def _process(self, scored: Scored, link: Upstream) -> None:
        if scored.marker is FAILED:
            message = "scoring the audio failed"
            raise FatalError(EngineError("engine_failure", message, fatal=True))
        self._sender.history.append(scored.pcm24)
        await self._apply(self._planner.feed(len(scored.pcm24) // 2, scored.probs), link)
        if scored.marker is FLUSH:
            await self._apply(self._planner.flush(), link)
        elif scored.marker is END:
            await self._apply(self._planner.finish(), link)
            self._ending = True
            self._end_deadline = time.monotonic() + self._tuning.final_timeout_s
        self._sender.trim(self._planner.sent_to)
        self._check_backlog()

    async def _apply(self, decisions: Sequence[Decision], link: Upstream) -> None:
        await self._sink.emit_all(await self._sender.apply(decisions, link))

    # -- connections ---------------------------------------------------------------------------

    async def _open(self) -> Upstream:
        gen, self._next_gen = self._next_gen, self._next_gen + 1
        self._connecting = True  # the client may queue more while an outage is retried
        self._check_backlog()
        try:
            link = await open_upstream(self._target, self._tuning, gen)
        except UpstreamRejectedError as exc:
            raise FatalError(EngineError(exc.code, exc.message, fatal=True)) from exc
        finally:
            self._connecting = False
            self._check_backlog()
        self._links = [old for old in self._links if not old.finished.is_set()] + [link]
        self._live.add(gen)
        self._group.start_soon(self._read, link)
        return link

    async def _read(self, link: Upstream) -> None:
        async def on_event(event: RealtimeServerEvent) -> None:
            if link.gen not in self._live:
                return
            if isinstance(event, ConversationItemInputAudioTranscriptionCompletedEvent):
                self._usage.completed(event.usage)
            scored_s = self._planner.scored_s
            await self._sink.emit_all(self._transcript.handle(link.gen, event, scored_s))
            self._wake.ring()

        await link.pump(on_event)
        self._wake.ring()

    async def _reconnect(self, lost: Upstream) -> None:
        self._drops = await drops_after_loss(
            lost, expired=self._transcript.expired(lost.gen), drops=self._drops, tuning=self._tuning
        )
        self._live.discard(lost.gen)
        owed = self._transcript.lost(lost.gen)
        await anyio.sleep(self._tuning.backoff(self._drops) if self._drops > 1 else 0)
        link = self._link = await self._open()
        for turn in owed:
            self._transcript.resent(turn.segment_id, link.gen)
            if turn.end is None:
                await self._sender.send(link, turn.start, self._planner.sent_to)
            else:
                await self._sender.send(link, turn.start, turn.end)
                await self._sender.commit(
                    link, turn.segment_id, turn.end, turn.end_s or turn.start_s
                )

    def _rotation_due(self, link: Upstream, now: float) -> bool:
        age = now - link.opened_at
        if age < self._tuning.rotate_after_s:
            return False
        grace_over = age >= self._tuning.rotate_after_s + self._tuning.rotate_grace_s
        return not self._planner.in_turn or grace_over

    async def _rotate(self, old: Upstream) -> None:
        log.info("rotating OpenAI connection %d", old.gen)
        if self._planner.in_turn:
            await self._apply(self._planner.flush(), old)
        self._draining.append(old)
        self._link = await self._open()

    async def _check_draining(self) -> None:
        for old in list(self._draining):
            if old.lost and self._transcript.owes(old.gen):
                message = "the rotated-out upstream connection dropped before its finals"
                given_up = self._transcript.abandon_link(old.gen, "upstream_lost", message)
                await self._sink.emit_all(given_up)
            elif self._transcript.owes(old.gen):
                continue
            self._draining.remove(old)
            self._live.discard(old.gen)
            self._group.start_soon(old.aclose, self._tuning.close_timeout_s)
