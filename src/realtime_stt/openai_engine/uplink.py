"""Audio on its way upstream with upstream's turns: batching into appends, resends, our commits.

:class:`AudioUplink` turns pushed PCM into appends of about ``append_ms`` (a shorter one after
``linger_s`` without more audio, or before a commit), records every sent sample in an
:class:`AudioHistory` trimmed to what a reconnect could still need, sends our commits when the
:class:`TranscriptAssembler` says one is due (:meth:`~TranscriptAssembler.commit_due`), and
registers each with it so upstream's answer can be matched.

An append goes out once :data:`APPEND_MIN_FRACTION` of ``append_ms`` is pending, and carries all
that is pending up to :data:`APPEND_MAX_FRACTION` of it. The tolerance is for the resampler: soxr
turns each 100 ms of 16 kHz input into 2202 or 2936 samples at 24 kHz (it works in blocks), never
exactly 2400, so with exact 100 ms appends every chunk would leave a remainder that waits for the
next chunk or the linger timer. With it, a client sending 100 ms chunks costs one append per
chunk and nothing waits; pushes of 20 ms still make exact 100 ms appends.
"""

from __future__ import annotations

import time

from realtime_stt.openai_engine import events
from realtime_stt.openai_engine.connection import Upstream
from realtime_stt.openai_engine.history import AudioHistory
from realtime_stt.openai_engine.records import Resume
from realtime_stt.openai_engine.transcript import TranscriptAssembler
from realtime_stt.openai_engine.tuning import SAMPLE_RATE, Tuning

APPEND_MIN_FRACTION = 0.9
APPEND_MAX_FRACTION = 1.5
_TRIM_EVERY = SAMPLE_RATE
"""Samples sent between two computations of how much history a reconnect could still need."""


class AudioUplink:
    """Sends a session's audio and commits; positions are session samples (24 kHz)."""

    def __init__(self, history: AudioHistory, asm: TranscriptAssembler, tuning: Tuning) -> None:
        self.history = history
        self._asm = asm
        self._tuning = tuning
        self._pending = bytearray()
        self._chunk = 2 * (SAMPLE_RATE * tuning.append_ms // 1000)
        self._ready = 2 * round(self._chunk * APPEND_MIN_FRACTION / 2)
        self._most = 2 * round(self._chunk * APPEND_MAX_FRACTION / 2)
        self._next_commit = 0
        self._trim_at = 0
        self.linger_deadline = 0.0

    @property
    def sent(self) -> int:
        """Session samples sent upstream so far (resends not counted)."""
        return self.history.end

    @property
    def has_pending(self) -> bool:
        """Whether audio waits for a full append."""
        return bool(self._pending)

    def add(self, pcm: bytes, now: float) -> None:
        """Queue audio for the next append."""
        if not self._pending:
            self.linger_deadline = now + self._tuning.linger_s
        self._pending += pcm

    async def send_pending(self, link: Upstream, *, everything: bool) -> None:
        """Send full appends (and, with ``everything``, the remainder) on ``link``."""
        while len(self._pending) >= self._ready or (everything and self._pending):
            await link.send(self._next_append(link))
        self.linger_deadline = time.monotonic() + self._tuning.linger_s

    def send_ready_nowait(self, link: Upstream) -> bool:
        """Send the full appends at once (:meth:`Upstream.send_nowait`); ``False`` when the link
        stopped being writable first (what is left stays pending)."""
        while len(self._pending) >= self._ready:
            if not link.writable:
                return False
            link.send_nowait(self._next_append(link))
        self.linger_deadline = time.monotonic() + self._tuning.linger_s
        return True

    def _next_append(self, link: Upstream) -> str:
        """Take the next append's audio from the pending bytes into the history; its event."""
        size = len(self._pending) if len(self._pending) <= self._most else self._chunk
        chunk = bytes(self._pending[:size])
        del self._pending[:size]
        self.history.append(chunk)
        end = self.history.end
        if end >= self._trim_at:
            tuning = self._tuning
            self._trim_at = end + _TRIM_EVERY
            floor = min(
                self._asm.resend_floor(link.gen), end - int(tuning.tail_resend_s * SAMPLE_RATE)
            )
            self.history.trim_before(max(floor, end - int(tuning.max_resend_s * SAMPLE_RATE)))
        return events.append_event(chunk)

    async def commit(self, link: Upstream, boundary: int) -> None:
        """Send ``input_audio_buffer.commit`` for the audio up to ``boundary``."""
        event_id = f"commit_{link.gen}_{self._next_commit}"
        self._next_commit += 1
        self._asm.commit_sent(link.gen, event_id, boundary)
        await link.send(events.commit_event(event_id))

    async def flush(self, link: Upstream, *, finishing: bool = False) -> None:
        """Send the remainder, then commit if one is due (if at least 100 ms is uncommitted;
        when ``finishing``, after padding silence to 100 ms if an utterance would otherwise
        hang)."""
        await self.send_pending(link, everything=True)
        padding = self._asm.commit_due(link.gen, self.sent, finishing=finishing)
        if padding is None:
            return
        if padding:
            self._pending += bytes(2 * padding)
            await self.send_pending(link, everything=True)
        await self.commit(link, self.sent)

    async def finish(self, link: Upstream) -> None:
        """The input has ended: :meth:`flush`, ``finishing``."""
        await self.flush(link, finishing=True)

    def resume_start(self, resume: Resume) -> int:
        """Where to start resending after a loss: what is owed, else a short recent tail."""
        start = resume.resend_from if resume.owed else self.tail_start(resume.resend_from)
        return max(start, self.history.base)

    def tail_start(self, commit_point: int) -> int:
        """At most ``tail_resend_s`` before now, never before ``commit_point``."""
        tail = self.sent - int(self._tuning.tail_resend_s * SAMPLE_RATE)
        return max(commit_point, tail, self.history.base)

    async def resend(self, link: Upstream, start: int, commit_points: tuple[int, ...]) -> None:
        """Send history from ``start`` on a new ``link``, replaying commits at ``commit_points``."""
        position = start
        stops = [(point, True) for point in commit_points] + [(self.sent, False)]
        for point, commit in stops:
            while position < point:
                chunk = self.history.slice(position, min(point, position + self._chunk // 2))
                if not chunk:
                    break
                position += len(chunk) // 2
                await link.send(events.append_event(chunk))
            if commit:
                await self.commit(link, point)
