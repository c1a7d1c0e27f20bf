"""The transcript of an OpenAI session with upstream's turns (sans-I/O): server events in,
engine events out.

:class:`TranscriptAssembler` holds every rule that needs no socket, so it is tested without one.
Positions are session samples at 24 kHz; an upstream ``audio_*_ms`` is relative to its connection
(``gen``), whose ``offset`` is the session sample its first appended byte carried.

* Segment ids run from 0 per session, assigned at ``speech_started`` (or, for an item without one,
  at its first ``committed``/``delta``), and announced with :class:`SpeechStarted` at that moment.
  An item our own commit created without ``speech_started`` over audio that ``is_silent`` calls
  silent is a *ghost*: it gets no segment and its events are ignored.
* Finals go out in commit order (see :mod:`~realtime_stt.openai_engine.records`).
  ``failed`` gives a ``transcription_failed`` error plus an empty final for that segment.
* After :meth:`connection_lost`, the segments the connection still owed become orphans: their
  audio is resent on the next connection, whose first items adopt them. A committed segment
  stranded before a completed one cannot be resent contiguously: it gets an ``upstream_lost``
  error and a final with the partial text received so far.
* ``error`` events: ``input_audio_buffer_commit_empty`` answering one of our commits is absorbed;
  ``session_expired`` marks the connection expired (the engine reconnects); any other becomes a
  non-fatal ``upstream_error:<code>`` (``<type>`` when upstream sends no code).
"""

from __future__ import annotations

from collections.abc import Callable

from openai.types.realtime import (
    ConversationItemInputAudioTranscriptionCompletedEvent,
    ConversationItemInputAudioTranscriptionDeltaEvent,
    ConversationItemInputAudioTranscriptionFailedEvent,
    InputAudioBufferCommittedEvent,
    InputAudioBufferSpeechStartedEvent,
    InputAudioBufferSpeechStoppedEvent,
    RealtimeError,
    RealtimeErrorEvent,
    RealtimeServerEvent,
)

from realtime_stt.engine.protocol import EngineError, EngineEvent, Partial
from realtime_stt.openai_engine.records import GHOST, LinkState, Resume, SegmentBook
from realtime_stt.openai_engine.tuning import MIN_COMMIT_SAMPLES, SAMPLE_RATE


class TranscriptAssembler:
    """Maps upstream events of successive connections to one session's engine events."""

    def __init__(self, is_silent: Callable[[int, int], bool] | None = None) -> None:
        self._is_silent = is_silent or _never
        self._book = SegmentBook()
        self._links: dict[int, LinkState] = {}

    # -- connections ---------------------------------------------------------------------------

    def connection_opened(self, gen: int, offset: int) -> None:
        """Connection ``gen`` starts; its first appended sample is session sample ``offset``."""
        self._links[gen] = LinkState(offset=offset, boundary=offset)

    def connection_lost(self, gen: int) -> tuple[Resume, list[EngineEvent]]:
        """Connection ``gen`` died: orphan what can be resent, give up the rest."""
        link = self._links.pop(gen)
        book = self._book
        events: list[EngineEvent] = []
        commits = list(link.commits)
        done = [i for i, sid in enumerate(commits) if sid not in book]
        last_done = done[-1] if done else -1
        for sid in commits[:last_done]:
            segment = book.get(sid)
            if segment is not None:
                events.append(_lost(sid))
                events += self._finish(sid, segment.text)
        tail = [sid for sid in commits[last_done + 1 :] if sid in book]
        open_ids = sorted(sid for sid in link.open if sid in book)
        starts = [link.offset] if book.has_orphans else []
        first = book.get(tail[0]) if tail else None
        if first is not None:
            starts.append(first.audio_from)
        if open_ids:
            starts.append(link.boundary)
        book.orphan(tail + open_ids)
        points = tuple(point for _, point in link.pending)
        return Resume(min(starts, default=link.boundary), bool(starts), points), events

    def begin_drain(self, gen: int) -> None:
        """Connection ``gen`` gets no more audio; it only finishes what it already committed."""
        self._links[gen].draining = True

    def drained(self, gen: int) -> bool:
        """Whether draining connection ``gen`` owes nothing more."""
        link = self._links[gen]
        return not link.pending and not any(sid in self._book for sid in link.commits)

    def forget(self, gen: int) -> None:
        """Connection ``gen`` is closed; ignore anything more about it."""
        self._links.pop(gen, None)

    def abandon_link(self, gen: int, code: str, message: str) -> list[EngineEvent]:
        """Give up what connection ``gen`` owes: an error and the partial text per segment."""
        link = self._links.pop(gen)
        events: list[EngineEvent] = []
        for sid in sorted({*link.commits, *link.open}):
            segment = self._book.get(sid)
            if segment is not None:
                events.append(EngineError(code, message, segment_id=sid))
                events += self._finish(sid, segment.text)
        return events

    # -- queries -------------------------------------------------------------------------------

    def commit_point(self, gen: int) -> int:
        """The session sample up to which connection ``gen``'s audio is committed or being so."""
        return self._links[gen].commit_point()

    def awaiting_commit(self, gen: int) -> bool:
        """Whether one of our commits on ``gen`` is still unanswered."""
        return bool(self._links[gen].pending)

    def uncommitted(self, gen: int, sent: int) -> int:
        """Samples sent on ``gen`` beyond :meth:`commit_point` (``sent`` = session samples sent)."""
        return max(0, sent - self.commit_point(gen))

    def resend_floor(self, gen: int) -> int:
        """The first sample a resend would need if connection ``gen`` were lost now."""
        link = self._links[gen]
        floor = link.offset if self._book.has_orphans else link.boundary
        for sid in reversed(link.commits):
            segment = self._book.get(sid)
            if segment is None:
                break
            floor = min(floor, segment.audio_from)
        return floor

    def speech_open(self, gen: int) -> bool:
        """Whether upstream ``gen`` is inside an utterance it has not committed yet."""
        return bool(self._links[gen].open)

    def expired(self, gen: int) -> bool:
        """Whether upstream said ``session_expired`` on connection ``gen``."""
        link = self._links.get(gen)
        return link is not None and link.expired

    def commit_due(self, gen: int, sent: int, *, finishing: bool = False) -> int | None:
        """Whether our commit of what is sent on ``gen`` is due (``sent`` = session samples
        sent): ``None`` while less than :data:`MIN_COMMIT_SAMPLES` is uncommitted (upstream
        refuses such a commit), else the samples of silence to send before it: 0, or, when
        ``finishing`` with less than that uncommitted while a segment still waits for its
        audio, the rest of :data:`MIN_COMMIT_SAMPLES` (without it, that segment would hang)."""
        uncommitted = self.uncommitted(gen, sent)
        if uncommitted >= MIN_COMMIT_SAMPLES:
            return 0
        waiting = self._book.has_orphans or any(link.open for link in self._links.values())
        if finishing and uncommitted > 0 and waiting:
            return MIN_COMMIT_SAMPLES - uncommitted
        return None

    def settled(self) -> bool:
        """Nothing is pending upstream except orphans no item adopted."""
        pending = any(link.pending for link in self._links.values())
        return not pending and self._book.only_orphans_open()

    def idle(self) -> bool:
        """Every segment has its final and no commit is unanswered."""
        return not self._book and not any(link.pending for link in self._links.values())

    # -- commands ------------------------------------------------------------------------------

    def commit_sent(self, gen: int, event_id: str, boundary: int) -> None:
        """We sent ``input_audio_buffer.commit`` ``event_id`` covering audio up to ``boundary``."""
        self._links[gen].pending.append((event_id, boundary))

    def finish_orphans(self) -> list[EngineEvent]:
        """Finals (partial text) for orphans no new item adopted; call once :meth:`settled`."""
        return list(self._book.finish_orphans())

    def abandon_all(self, error: EngineError | None) -> list[EngineEvent]:
        """``error`` (if any), then finals with the partial text for every open segment."""
        events: list[EngineEvent] = [error] if error is not None else []
        events += self._book.finish_all()
        for link in self._links.values():
            link.pending.clear()
            link.open.clear()
        return events

    def handle(self, gen: int, event: RealtimeServerEvent, sent: int) -> list[EngineEvent]:
        """Engine events caused by ``event`` from connection ``gen``; ``sent`` = samples sent."""
        link = self._links.get(gen)
        if link is None:
            return []
        if isinstance(event, InputAudioBufferSpeechStartedEvent):
            if event.item_id in link.items or link.draining:
                return []
            start = max(link.at(event.audio_start_ms), link.boundary)
            return self._open(link, gen, event.item_id, start)
        if isinstance(event, InputAudioBufferSpeechStoppedEvent):
            segment = self._book.get(link.items.get(event.item_id, GHOST))
            if segment is not None:
                segment.end = link.at(event.audio_end_ms)
            return []
        if isinstance(event, InputAudioBufferCommittedEvent):
            return self._committed(link, gen, event.item_id, event.previous_item_id, sent)
        if isinstance(event, ConversationItemInputAudioTranscriptionDeltaEvent):
            return self._delta(link, gen, event.item_id, event.delta or "", sent)
        if isinstance(event, ConversationItemInputAudioTranscriptionCompletedEvent):
            events = self._committed(link, gen, event.item_id, None, sent)
            sid = link.items[event.item_id]
            return events + (self._finish(sid, event.transcript) if sid in self._book else [])
        if isinstance(event, ConversationItemInputAudioTranscriptionFailedEvent):
            events = self._committed(link, gen, event.item_id, None, sent)
            sid = link.items[event.item_id]
            if sid not in self._book:
                return events
            message = event.error.message or "upstream could not transcribe this utterance"
            events.append(EngineError("transcription_failed", message, segment_id=sid))
            return events + self._finish(sid, "")
        if isinstance(event, RealtimeErrorEvent):
            return self._error(link, event.error)
        return []

    # -- internals -----------------------------------------------------------------------------
    def _open(self, link: LinkState, gen: int, item_id: str, start: int) -> list[EngineEvent]:
        segment, events = self._book.open(start, link.boundary, gen)
        link.items[item_id] = segment.segment_id
        link.open.add(segment.segment_id)
        return events

    def _committed(
        self, link: LinkState, gen: int, item_id: str, previous: str | None, sent: int
    ) -> list[EngineEvent]:
        events: list[EngineEvent] = []
        if item_id not in link.items:
            if link.pending and self._is_silent(link.boundary, link.pending[0][1]):
                link.boundary = max(link.boundary, link.pending.popleft()[1])
                link.items[item_id] = GHOST
                return []
            events = self._open(link, gen, item_id, link.boundary)
        sid = link.items[item_id]
        segment = self._book.get(sid)
        if segment is None or sid not in link.open:
            return events
        if segment.end is not None:
            boundary = segment.end
        elif link.pending:
            boundary = link.pending.popleft()[1]
        else:
            boundary = max(sent, link.boundary)
        segment.audio_from = link.boundary
        link.boundary = max(link.boundary, boundary)
        segment.end = link.boundary if segment.end is None else segment.end
        link.open.discard(sid)
        link.commits.append(sid)
        self._book.place(segment, link.items.get(previous) if previous else None)
        return events

    def _delta(
        self, link: LinkState, gen: int, item_id: str, delta: str, sent: int
    ) -> list[EngineEvent]:
        events: list[EngineEvent] = []
        if item_id not in link.items:
            if link.draining:
                return []
            events = self._open(link, gen, item_id, link.boundary)
        segment = self._book.get(link.items[item_id])
        if segment is None:
            return events
        segment.text += delta
        text = segment.text.strip()
        if text:
            end = segment.end if segment.end is not None else max(sent, segment.start)
            start_s, end_s = segment.start / SAMPLE_RATE, end / SAMPLE_RATE
            events.append(Partial(segment.segment_id, text, start_s, end_s))
        return events

    def _error(self, link: LinkState, error: RealtimeError) -> list[EngineEvent]:
        if error.code == "input_audio_buffer_commit_empty" and link.pending:
            link.drop_commit(error.event_id)
            return []
        if error.code == "session_expired":
            link.expired = True
            return []
        return [EngineError(f"upstream_error:{error.code or error.type}", error.message)]

    def _finish(self, sid: int, text: str) -> list[EngineEvent]:
        segment = self._book.get(sid)
        link = self._links.get(segment.gen) if segment and segment.gen is not None else None
        finals = self._book.finish(sid, text)
        if link is not None:
            link.open.discard(sid)
            while link.commits and link.commits[0] not in self._book:
                link.commits.popleft()
        return list(finals)


def _never(start: int, stop: int) -> bool:
    return False


def _lost(sid: int) -> EngineError:
    message = "the upstream connection dropped before this utterance was transcribed"
    return EngineError("upstream_lost", message, segment_id=sid)
