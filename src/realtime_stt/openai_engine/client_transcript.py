"""Client-commit transcripts (sans-I/O): upstream events of our own turns in, engine events out.

In client-commit mode every upstream item is a turn our :class:`~.turns.TurnPlanner` opened and
committed, so segments are ours: a segment's id, start and end come from our VAD (exact sample
positions), and upstream only supplies text. Matching upstream ``item_id`` to our turns:

* ``input_audio_buffer.committed`` answers our commits in order, on each connection: the oldest
  unanswered commit gets its ``item_id``.
* a ``delta`` for an item not yet known belongs to the oldest turn of that connection that has
  no item yet (streaming models send text for the buffer being filled, before its commit). If the
  ``committed`` event later names another item for that turn, the earlier item and its text move
  on to the next turn.

Finals are released in the order we committed. A turn committed more than ``final_timeout_s``
ago without its ``completed`` gets a ``final_timeout`` error and a final with its partial text
(:meth:`ClientTranscript.overdue`), so the turns after it go on. When a connection is lost, its
unfinished turns are handed back (:meth:`ClientTranscript.lost`) with their text and item cleared,
to be sent again on the next connection: their partials then start afresh, never repeat.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from openai.types.realtime import (
    ConversationItemInputAudioTranscriptionCompletedEvent,
    ConversationItemInputAudioTranscriptionDeltaEvent,
    ConversationItemInputAudioTranscriptionFailedEvent,
    InputAudioBufferCommittedEvent,
    RealtimeErrorEvent,
    RealtimeServerEvent,
)

from realtime_stt.engine.protocol import EngineError, EngineEvent, Final, Partial, SpeechStarted
from realtime_stt.openai_engine.ordering import CommitOrder


@dataclass(slots=True)
class Turn:
    """One segment, from our ``Open`` to its final.

    Attributes:
        segment_id: the id announced to the client.
        start: first 24-kHz session sample; ``start_s`` the same in seconds.
        gen: the connection carrying it.
        end: last sample (exclusive) once committed; ``end_s`` in seconds.
        commit_id: our unanswered commit's event id, if any.
        committed_at: when we committed it (monotonic seconds).
        item: upstream's item id, once known.
        text: the deltas received so far.
    """

    segment_id: int
    start: int
    start_s: float
    gen: int
    end: int | None = None
    end_s: float | None = None
    commit_id: str | None = None
    committed_at: float | None = None
    item: str | None = None
    text: str = ""


@dataclass(slots=True)
class _Link:
    expired: bool = False
    unanswered: deque[int] = field(default_factory=deque)
    items: dict[str, int] = field(default_factory=dict)


class ClientTranscript:
    """The open turns of one session and the commit order of their finals."""

    def __init__(self, final_timeout_s: float) -> None:
        self._timeout = final_timeout_s
        self._turns: dict[int, Turn] = {}
        self._order: CommitOrder[int, Final] = CommitOrder()
        self._links: dict[int, _Link] = {}

    # -- queries -------------------------------------------------------------------------------

    def idle(self) -> bool:
        """Every turn has its final."""
        return not self._turns

    def owes(self, gen: int) -> bool:
        """Whether connection ``gen`` carries a turn without its final."""
        return any(turn.gen == gen for turn in self._turns.values())

    def expired(self, gen: int) -> bool:
        """Whether upstream said ``session_expired`` on connection ``gen``."""
        link = self._links.get(gen)
        return link is not None and link.expired

    def turn(self, segment_id: int) -> Turn | None:
        """The open turn ``segment_id``, if it has no final yet."""
        return self._turns.get(segment_id)

    def turns(self) -> list[Turn]:
        """The turns without a final, oldest first."""
        return sorted(self._turns.values(), key=lambda t: t.segment_id)

    def next_deadline(self) -> float | None:
        """When the oldest committed turn without a final becomes overdue."""
        times = [t.committed_at for t in self._turns.values() if t.committed_at is not None]
        return min(times) + self._timeout if times else None

    # -- our side ------------------------------------------------------------------------------

    def opened(self, segment_id: int, start: int, start_s: float, gen: int) -> list[EngineEvent]:
        """Our endpointer opened turn ``segment_id`` on connection ``gen``."""
        self._turns[segment_id] = Turn(segment_id, start, start_s, gen)
        return [SpeechStarted(segment_id, start_s)]

    def committing(  # noqa: PLR0917 - the commit's facts, each used once
        self, segment_id: int, end: int, end_s: float, event_id: str, gen: int, now: float
    ) -> None:
        """We are sending commit ``event_id`` for turn ``segment_id`` on connection ``gen``."""
        turn = self._turns[segment_id]
        turn.end, turn.end_s, turn.gen = end, end_s, gen
        turn.commit_id, turn.committed_at = event_id, now
        self._link(gen).unanswered.append(segment_id)
        self._order.commit(segment_id)

    def resent(self, segment_id: int, gen: int) -> None:
        """Turn ``segment_id``'s audio is being sent again on connection ``gen``."""
        self._turns[segment_id].gen = gen

    def lost(self, gen: int) -> list[Turn]:
        """Connection ``gen`` died: its unfinished turns, oldest first, reset for resending."""
        self._links.pop(gen, None)
        owed = sorted((t for t in self._turns.values() if t.gen == gen), key=lambda t: t.segment_id)
        for turn in owed:
            turn.item, turn.text, turn.commit_id = None, "", None
        return owed

    def overdue(self, now: float) -> list[EngineEvent]:
        """``final_timeout`` plus a final with the text so far, for each turn waited on too long."""
        events: list[EngineEvent] = []
        for turn in sorted(self._turns.values(), key=lambda t: t.segment_id):
            if turn.committed_at is not None and now >= turn.committed_at + self._timeout:
                message = f"upstream did not finish this utterance within {self._timeout:g} s"
                events.append(EngineError("final_timeout", message, segment_id=turn.segment_id))
                events += self._finish(turn, turn.text)
        return events

    def abandon_link(self, gen: int, code: str, message: str) -> list[EngineEvent]:
        """Give up connection ``gen``'s turns: ``code`` and a final with the text so far each."""
        self._links.pop(gen, None)
        events: list[EngineEvent] = []
        for turn in self.turns():
            if turn.gen == gen:
                events.append(EngineError(code, message, segment_id=turn.segment_id))
                events += self._finish(turn, turn.text)
        return events

    def abandon_all(self, error: EngineError | None) -> list[EngineEvent]:
        """``error`` (if any), then a final with the text so far for every open turn."""
        events: list[EngineEvent] = [error] if error is not None else []
        for turn in sorted(self._turns.values(), key=lambda t: t.segment_id):
            events += self._finish(turn, turn.text)
        return events

    # -- upstream ------------------------------------------------------------------------------

    def handle(self, gen: int, event: RealtimeServerEvent, now_s: float) -> list[EngineEvent]:
        """Engine events for ``event`` from connection ``gen``; ``now_s`` = seconds scored."""
        link = self._link(gen)
        if isinstance(event, ConversationItemInputAudioTranscriptionDeltaEvent):
            turn = self._for_item(gen, link, event.item_id)
            if turn is None or not event.delta:
                return []
            turn.text += event.delta
            text = turn.text.strip()
            if not text:
                return []
            end_s = turn.end_s if turn.end_s is not None else max(now_s, turn.start_s)
            return [Partial(turn.segment_id, text, turn.start_s, end_s)]
        if isinstance(event, InputAudioBufferCommittedEvent):
            self._answered(gen, link, event.item_id)
            return []
        if isinstance(event, ConversationItemInputAudioTranscriptionCompletedEvent):
            turn = self._for_item(gen, link, event.item_id)
            return [] if turn is None else self._finish(turn, event.transcript)
        if isinstance(event, ConversationItemInputAudioTranscriptionFailedEvent):
            turn = self._for_item(gen, link, event.item_id)
            if turn is None:
                return []
            message = event.error.message or "upstream could not transcribe this utterance"
            error = EngineError("transcription_failed", message, segment_id=turn.segment_id)
            return [error, *self._finish(turn, "")]
        if isinstance(event, RealtimeErrorEvent):
            return self._error(link, event)
        return []

    # -- internals -----------------------------------------------------------------------------

    def _link(self, gen: int) -> _Link:
        link = self._links.get(gen)
        if link is None:
            link = self._links[gen] = _Link()
        return link

    def _for_item(self, gen: int, link: _Link, item: str) -> Turn | None:
        segment_id = link.items.get(item)
        if segment_id is not None:
            return self._turns.get(segment_id)
        unbound = [t for t in self._turns.values() if t.gen == gen and t.item is None]
        if not unbound:
            return None
        turn = min(unbound, key=lambda t: t.segment_id)
        turn.item = item
        link.items[item] = turn.segment_id
        return turn

    def _answered(self, gen: int, link: _Link, item: str) -> None:
        """Our oldest unanswered commit on ``gen`` made ``item``: bind it to that turn, and hand
        what the turn had wrongly taken (another item and its text) to the turn that has it."""
        if not link.unanswered:
            return
        turn = self._turns.get(link.unanswered.popleft())
        if turn is None:
            return
        turn.commit_id = None
        if turn.item == item:
            return
        holder = self._turns.get(link.items.get(item, -1))
        wrong_item, wrong_text = turn.item, turn.text
        turn.item, turn.text = item, holder.text if holder is not None else ""
        link.items[item] = turn.segment_id
        if wrong_item is None:
            if holder is not None:
                holder.item, holder.text = None, ""
            return
        later = holder or min(
            (t for t in self._turns.values() if t.gen == gen and t.item is None),
            key=lambda t: t.segment_id,
            default=None,
        )
        if later is None:
            del link.items[wrong_item]
            return
        later.item, later.text = wrong_item, wrong_text
        link.items[wrong_item] = later.segment_id

    def _error(self, link: _Link, event: RealtimeErrorEvent) -> list[EngineEvent]:
        error = event.error
        if error.code == "session_expired":
            link.expired = True
            return []
        if error.code == "input_audio_buffer_commit_empty":
            for segment_id in list(link.unanswered):
                turn = self._turns.get(segment_id)
                if turn is not None and turn.commit_id == error.event_id:
                    link.unanswered.remove(segment_id)
                    return self._finish(turn, turn.text)
            return []
        return [EngineError(f"upstream_error:{error.code or error.type}", error.message)]

    def _finish(self, turn: Turn, text: str) -> list[EngineEvent]:
        self._turns.pop(turn.segment_id, None)
        self._order.commit(turn.segment_id)
        end_s = turn.end_s if turn.end_s is not None else turn.start_s
        final = Final(turn.segment_id, text.strip(), turn.start_s, end_s)
        self._order.complete(turn.segment_id, final)
        return list(self._order.pop_ready())
