"""What the transcript assembler keeps per upstream connection, and what a lost one leaves owed.

Positions are session samples (24 kHz). A connection's ``audio_*_ms`` count from its own first
appended sample, which is session sample ``offset``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from realtime_stt.openai_engine.tuning import SAMPLE_RATE

GHOST = -1
"""Segment id recorded for an item that gets no segment (silence our commit created)."""


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
