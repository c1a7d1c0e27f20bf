"""OpenAISession: one client's session when upstream ends turns (server or semantic VAD).

A driver task, plus one reader task per connection. Audio methods never block: ``flush`` and
``end_input`` queue, and so does ``push_audio``, except while the driver is idle with nothing
queued and the connection takes data: then it sends the full appends itself. The driver consumes
the queue in order through the :class:`~.uplink.AudioUplink` (appends, commits when due),
reconnects after a drop, and rotates the connection before upstream's 60-minute cap. Readers
feed server events to the :class:`~.transcript.TranscriptAssembler` (which drops an item our
commit made out of silence, see ``Tuning.silence_rms``), whose events go to the session's stream.

Bounds: queued audio beyond ``max_backlog_s`` ends the session (``engine_overloaded``), and
repeated flushes with no audio between them queue once; sent audio is kept for resending only
from the oldest sample a reconnect could need, at most ``max_resend_s``.
After ``end_input`` the driver waits at most ``final_timeout_s`` for outstanding finals, then emits
``final_timeout`` plus finals carrying the partial text. A fatal error is preceded by such finals.

Reconnect: on close codes in ``RETRY_CLOSE_CODES``, no close frame, or after ``session_expired``,
a new connection gets ``session.update`` and then the audio the lost one still owed (see
:meth:`TranscriptAssembler.connection_lost`), our unanswered commits replayed at their positions.
Rotation: after ``rotate_after_s``, at a pause in speech (or after ``rotate_grace_s`` regardless),
the old connection is cleared (or, mid-utterance, committed) and kept until its finals arrive.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable

import anyio
from openai.types.realtime import (
    ConversationItemInputAudioTranscriptionCompletedEvent as CompletedEvent,
)
from openai.types.realtime import RealtimeServerEvent

from realtime_stt.engine.protocol import EngineError
from realtime_stt.engine.running import BaseSession, FatalError
from realtime_stt.openai_engine import events
from realtime_stt.openai_engine.alarm import Alarm
from realtime_stt.openai_engine.connection import (
    Target,
    Upstream,
    UpstreamRejectedError,
    drops_after_loss,
    open_upstream,
)
from realtime_stt.openai_engine.history import AudioHistory
from realtime_stt.openai_engine.transcript import TranscriptAssembler
from realtime_stt.openai_engine.tuning import SAMPLE_RATE, Tuning
from realtime_stt.openai_engine.uplink import AudioUplink
from realtime_stt.openai_engine.usage import SessionUsage

log = logging.getLogger(__name__)


class _Marker:
    pass


_FLUSH = _Marker()
_END = _Marker()


class OpenAISession(BaseSession):
    """Implements ``EngineSession``; run it inside :meth:`running`."""

    def __init__(self, target: Target, tuning: Tuning, usage: SessionUsage | None = None) -> None:
        super().__init__(sample_rate=SAMPLE_RATE, event_buffer=tuning.event_buffer)
        self._target = target
        self._tuning = tuning
        self._usage = usage
        self._counted = 0
        """Samples sent that :attr:`_usage` has been told about."""
        self._commands: deque[bytes | _Marker] = deque()
        self._wake = Alarm()
        self._parked = False
        """True while the driver waits with nothing to do: :meth:`push_audio` may then send
        audio itself (synchronously), which saves a task switch and a driver pass per chunk."""
        history = AudioHistory()
        self._asm = TranscriptAssembler(
            lambda start, stop: history.peak_rms(start, stop) < tuning.silence_rms
        )
        self._uplink = AudioUplink(history, self._asm, tuning)
        self._backlog = 0
        self._connecting = False
        self._ended = False
        self._overflow = False
        self._end_deadline: float | None = None
        self._link: Upstream | None = None
        self._draining: list[tuple[Upstream, float]] = []
        self._links: list[Upstream] = []
        self._next_gen = 0
        self._drops = 0

    # -- EngineSession -------------------------------------------------------------------------

    def push_audio(self, pcm: bytes) -> None:
        """Queue PCM16 LE mono 24 kHz audio (a trailing odd byte is dropped); ignored after end."""
        pcm = pcm[: len(pcm) - len(pcm) % 2]
        if self._ended or self._overflow or not pcm:
            return
        self._sink.pushed += len(pcm) // 2
        link = self._link
        if self._parked and not self._commands and link is not None and link.writable:
            # the driver is idle and nothing is queued ahead: send now, from the caller's task
            self._uplink.add(pcm, time.monotonic())
            if not self._uplink.send_ready_nowait(link) or self._uplink.has_pending:
                self._wake.ring()  # the driver sends the rest, or lingers for more audio
            return
        self._backlog += len(pcm) // 2
        if self._backlog > self._tuning.max_backlog_s * SAMPLE_RATE:
            self._overflow = True
        else:
            self._commands.append(pcm)
        if self._backlog > self._tuning.room_samples(SAMPLE_RATE, connecting=self._connecting):
            self._room.clear()
        self._wake.ring()

    def flush(self) -> None:
        """Commit the utterance in progress once the audio before it is sent (if ≥ 100 ms)."""
        if not self._ended and not (self._commands and self._commands[-1] is _FLUSH):
            self._commands.append(_FLUSH)
            self._wake.ring()

    def end_input(self) -> None:
        """Commit what remains, then end the stream once every final is out (bounded wait)."""
        if not self._ended:
            self._ended = True
            self._commands.append(_END)
            self._wake.ring()

    def _release(self) -> None:
        self._wake.cancel()
        if self._usage is not None:
            self._count_sent()
            received = self._sink.pushed / SAMPLE_RATE
            log.info("session usage: %s", self._usage.summary(received))

    def _count_sent(self) -> None:
        if self._usage is not None:
            self._usage.sent((self._uplink.sent - self._counted) / SAMPLE_RATE)
            self._counted = self._uplink.sent

    # -- driver --------------------------------------------------------------------------------

    async def _wind_up(self, errors: list[EngineError]) -> None:
        """Close every connection and let its reader deliver what it already handled; then a
        fatal error's finals (the partial text of every open segment) and the error."""
        for link in self._links:
            await link.aclose(self._tuning.close_timeout_s)
            with anyio.move_on_after(self._tuning.close_timeout_s, shield=True):
                await link.finished.wait()
        if errors:
            await self._sink.emit_all([*self._asm.abandon_all(None), *errors])

    async def _drive(self) -> None:
        link = self._link = await self._open(0, ())
        while True:
            self._wake.reset()
            now = time.monotonic()
            if self._overflow:
                message = "audio arrives faster than it can be sent upstream"
                raise FatalError(EngineError("engine_overloaded", message, fatal=True))
            if self._draining:
                await self._check_draining(now)
            link = self._link or link
            if link.lost:
                await self._recover(link)
            elif self._end_deadline is None:
                if self._rotation_due(link, now):
                    await self._rotate(link)
                elif self._commands:
                    await self._step(link, now)
                elif self._uplink.has_pending and now >= self._uplink.linger_deadline:
                    await self._uplink.send_pending(link, everything=True)
                else:
                    await self._sleep(now)
            else:
                if self._asm.settled():
                    await self._sink.emit_all(self._asm.finish_orphans())
                if self._asm.idle():
                    return
                if now >= self._end_deadline:
                    message = "upstream did not deliver every final in time"
                    error = EngineError("final_timeout", message)
                    await self._sink.emit_all(self._asm.abandon_all(error))
                    return
                await self._sleep(now)

    async def _sleep(self, now: float) -> None:
        deadlines = [now + 5.0] + [deadline for _, deadline in self._draining]
        if self._end_deadline is not None:
            deadlines.append(self._end_deadline)
        elif self._link is not None:
            rotate_at = self._link.opened_at + self._tuning.rotate_after_s
            if now >= rotate_at:  # waiting for a pause: speech events wake us, or the grace ends
                rotate_at += self._tuning.rotate_grace_s
            deadlines.append(rotate_at)
        if self._uplink.has_pending:
            deadlines.append(self._uplink.linger_deadline)
        self._parked = True
        try:
            await self._wake.wait(min(deadlines), now)
        finally:
            self._parked = False

    async def _step(self, link: Upstream, now: float) -> None:
        command = self._commands.popleft()
        if isinstance(command, bytes):
            self._backlog -= len(command) // 2
            if self._backlog <= self._tuning.room_samples(SAMPLE_RATE, connecting=False):
                self._room.set()
            self._uplink.add(command, now)
            await self._uplink.send_pending(link, everything=False)
        elif command is _FLUSH:
            await self._uplink.flush(link)
        else:
            await self._uplink.finish(link)
            self._end_deadline = now + self._tuning.final_timeout_s

    # -- connections ---------------------------------------------------------------------------

    async def _open(self, start: int, commit_points: tuple[int, ...]) -> Upstream:
        gen, self._next_gen = self._next_gen, self._next_gen + 1
        self._connecting = True  # the client may queue more while an outage is retried
        if self._backlog <= self._tuning.room_samples(SAMPLE_RATE, connecting=True):
            self._room.set()
        try:
            link = await open_upstream(self._target, self._tuning, gen)
        except UpstreamRejectedError as exc:
            raise FatalError(EngineError(exc.code, exc.message, fatal=True)) from exc
        finally:
            self._connecting = False
        self._asm.connection_opened(gen, start)
        self._links = [old for old in self._links if not old.finished.is_set()] + [link]
        self._group.start_soon(self._read, link)
        await self._uplink.resend(link, start, commit_points)
        return link

    async def _read(self, link: Upstream) -> None:
        async def on_event(event: RealtimeServerEvent) -> None:
            if self._usage is not None and isinstance(event, CompletedEvent):
                self._count_sent()
                self._usage.completed(event.usage)
            await self._sink.emit_all(self._asm.handle(link.gen, event, self._uplink.sent))
            self._wake.ring()

        await link.pump(on_event)
        self._wake.ring()

    async def _recover(self, lost: Upstream) -> None:
        self._drops = await drops_after_loss(
            lost, expired=self._asm.expired(lost.gen), drops=self._drops, tuning=self._tuning
        )
        resume, lost_events = self._asm.connection_lost(lost.gen)
        await self._sink.emit_all(lost_events)
        start = self._uplink.resume_start(resume)
        await anyio.sleep(self._tuning.backoff(self._drops) if self._drops > 1 else 0)
        points = tuple(point for point in resume.commit_points if point > start)
        self._link = await self._open(start, points)
        if self._end_deadline is not None and not points:
            await self._uplink.finish(self._link)

    def _rotation_due(self, link: Upstream, now: float) -> bool:
        age = now - link.opened_at
        if age < self._tuning.rotate_after_s:
            return False
        return not self._asm.speech_open(link.gen) or age >= (
            self._tuning.rotate_after_s + self._tuning.rotate_grace_s
        )

    async def _rotate(self, old: Upstream) -> None:
        log.info("rotating OpenAI connection %d", old.gen)
        sent = self._uplink.sent
        open_speech = self._asm.speech_open(old.gen)
        if open_speech and self._asm.commit_due(old.gen, sent) is not None:
            await self._uplink.commit(old, sent)
            start = sent
            await self._wait_until(lambda: old.lost or not self._asm.awaiting_commit(old.gen))
        else:
            await old.send(events.clear_event(f"clear_{old.gen}"))
            start = self._uplink.tail_start(self._asm.commit_point(old.gen))
        self._asm.begin_drain(old.gen)
        self._draining.append((old, time.monotonic() + self._tuning.final_timeout_s))
        self._link = await self._open(start, ())

    async def _wait_until(self, done: Callable[[], bool]) -> None:
        with anyio.move_on_after(self._tuning.connect_timeout_s):
            while not done():
                self._wake.reset()
                await self._wake.wait()

    async def _check_draining(self, now: float) -> None:
        for entry in list(self._draining):
            link, deadline = entry
            if self._asm.drained(link.gen):
                self._asm.forget(link.gen)
            elif link.lost or now >= deadline:
                code = "upstream_lost" if link.lost else "final_timeout"
                message = "the rotated-out upstream connection did not finish its utterances"
                await self._sink.emit_all(self._asm.abandon_link(link.gen, code, message))
            else:
                continue
            self._draining.remove(entry)
            self._group.start_soon(link.aclose, self._tuning.close_timeout_s)
