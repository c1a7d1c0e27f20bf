"""What the transcript assembler keeps (sans-I/O): the session's segments and each connection's.

Positions are session samples (24 kHz).

*Segments*: a segment is one utterance as the client sees it, from its :class:`SpeechStarted` to
its one :class:`Final`; :class:`SegmentBook` holds the open ones, their ids and the commit order
their finals are released in. A segment whose connection died before its final becomes an
*orphan*; the next segment a newer connection opens adopts the oldest orphan instead of taking a
new id, so the client's ids stay continuous and each gets exactly one final.

*Connections*: :class:`LinkState` is one upstream connection as the assembler sees it, and
:class:`Resume` what a lost one leaves owed to the next. A connection's ``audio_*_ms`` count from
its own first appended sample, which is session sample ``offset``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from realtime_stt.engine.protocol import EngineEvent, Final, SpeechStarted
from realtime_stt.openai_engine.ordering import CommitOrder
from realtime_stt.openai_engine.tuning import SAMPLE_RATE

GHOST = -1
"""Segment id recorded for an item that gets no segment (silence our commit created)."""


@dataclass(slots=True)
class Segment:
    """An utterance without its final yet.

    Attributes:
        segment_id: the id announced to the client.
        start: announced start.
        audio_from: the commit boundary its audio starts after (where a resend must begin).
        end: end of its audio, once known (``speech_stopped`` or its commit).
        text: the deltas received so far.
        gen: the connection carrying it; ``None`` while it is an orphan.
        ordered: placed in the commit order already.
    """

    segment_id: int
    start: int
    audio_from: int
    end: int | None = None
    text: str = ""
    gen: int | None = None
    ordered: bool = False


class SegmentBook:
    """Open segments of a session and the commit order their finals are released in."""

    def __init__(self) -> None:
        self._open: dict[int, Segment] = {}
        self._orphans: deque[int] = deque()
        self._order: CommitOrder[int, Final] = CommitOrder()
        self._next_id = 0

    def __len__(self) -> int:
        return len(self._open)

    def __contains__(self, segment_id: object) -> bool:
        return segment_id in self._open

    def get(self, segment_id: int) -> Segment | None:
        """The open segment ``segment_id``, or ``None`` once it has its final."""
        return self._open.get(segment_id)

    def ids(self) -> list[int]:
        """Ids of the open segments, oldest first."""
        return sorted(self._open)

    @property
    def has_orphans(self) -> bool:
        """Whether some segment waits to be adopted by a new connection's item."""
        return bool(self._orphans)

    def only_orphans_open(self) -> bool:
        """Whether every open segment is an orphan."""
        return all(sid in self._orphans for sid in self._open)

    def open(self, start: int, audio_from: int, gen: int) -> tuple[Segment, list[EngineEvent]]:
        """Adopt the oldest orphan for connection ``gen``, or announce a new segment."""
        while self._orphans:
            segment = self._open.get(self._orphans.popleft())
            if segment is not None:
                # its audio is transcribed again from the start: so is its text, or the client
                # would see the words received before the drop twice in its partials
                segment.gen, segment.end, segment.text = gen, None, ""
                return segment, []
        segment = Segment(self._next_id, start, audio_from, gen=gen)
        self._next_id += 1
        self._open[segment.segment_id] = segment
        return segment, [SpeechStarted(segment.segment_id, start / SAMPLE_RATE)]

    def orphan(self, segment_ids: list[int]) -> None:
        """Their connection died; they wait for adoption (oldest first)."""
        for sid in segment_ids:
            self._open[sid].gen = None
        self._orphans = deque(sorted({*self._orphans, *segment_ids}))

    def place(self, segment: Segment, previous: int | None = None) -> None:
        """Put ``segment`` in the commit order (after ``previous`` if that is still pending)."""
        if not segment.ordered:
            self._order.commit(segment.segment_id, previous)
            segment.ordered = True

    def finish(self, segment_id: int, text: str) -> list[Final]:
        """Close ``segment_id`` with ``text``; returns the finals now due, in commit order."""
        segment = self._open.pop(segment_id)
        self.place(segment)
        end = segment.end if segment.end is not None else segment.start
        final = Final(segment_id, text.strip(), segment.start / SAMPLE_RATE, end / SAMPLE_RATE)
        self._order.complete(segment_id, final)
        return self._order.pop_ready()

    def finish_orphans(self) -> list[Final]:
        """Close every orphan with its partial text."""
        finals: list[Final] = []
        while self._orphans:
            segment = self._open.get(self._orphans.popleft())
            if segment is not None:
                finals += self.finish(segment.segment_id, segment.text)
        return finals

    def finish_all(self) -> list[Final]:
        """Close every open segment with its partial text."""
        finals: list[Final] = []
        for sid in self.ids():
            finals += self.finish(sid, self._open[sid].text)
        self._orphans.clear()
        return finals


@dataclass(slots=True)
class LinkState:
    """One connection as the assembler sees it.

    Attributes:
        offset: session sample of its first appended sample.
        boundary: session sample up to which upstream has committed its audio.
        items: upstream item id to segment id (or :data:`GHOST`).
        commits: segment ids it committed, oldest first (completed ones trimmed from the head).
        open: segment ids it started but has not committed.
        pending: our commits not answered yet, as (event id, session sample they cover up to).
        draining: rotated out; it only finishes what it already committed.
        expired: upstream said ``session_expired``.
    """

    offset: int
    boundary: int
    items: dict[str, int] = field(default_factory=dict)
    commits: deque[int] = field(default_factory=deque)
    open: set[int] = field(default_factory=set)
    pending: deque[tuple[str, int]] = field(default_factory=deque)
    draining: bool = False
    expired: bool = False

    def at(self, ms: int) -> int:
        """The session sample of this connection's ``ms``."""
        return self.offset + ms * (SAMPLE_RATE // 1000)

    def commit_point(self) -> int:
        """Where its audio is committed, or will be once our pending commits are answered."""
        return max(self.boundary, self.pending[-1][1]) if self.pending else self.boundary

    def drop_commit(self, event_id: str | None) -> None:
        """Upstream refused our commit ``event_id`` (the oldest if it does not say which)."""
        ids = [pending_id for pending_id, _ in self.pending]
        del self.pending[ids.index(event_id) if event_id in ids else 0]


@dataclass(frozen=True, slots=True)
class Resume:
    """What the next connection needs after a loss.

    Attributes:
        resend_from: the first session sample to resend.
        owed: whether utterances depend on that audio (if not, any recent tail will do).
        commit_points: session samples at which our own commits were still unanswered.
    """

    resend_from: int
    owed: bool
    commit_points: tuple[int, ...]
