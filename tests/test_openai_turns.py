"""Client-commit turns without sockets: what our endpointer sends upstream, when it commits, and
how upstream's items and text map onto our segments."""

from __future__ import annotations

import itertools

import numpy as np
from openai.types.realtime import (
    ConversationItemInputAudioTranscriptionCompletedEvent,
    ConversationItemInputAudioTranscriptionDeltaEvent,
    InputAudioBufferCommittedEvent,
    RealtimeError,
    RealtimeErrorEvent,
)

from realtime_stt.engine.protocol import EngineError, EngineEvent, Final, Partial, SpeechStarted
from realtime_stt.openai_engine.client_transcript import ClientTranscript
from realtime_stt.openai_engine.turns import FRAME24, Commit, Decision, Open, Send, TurnPlanner

PAD_MS = 200
PAD24 = PAD_MS * 24


def planner(**overrides: float) -> TurnPlanner:
    options: dict[str, float] = {
        "threshold": 0.5,
        "commit_silence_ms": 480,
        "speech_pad_ms": PAD_MS,
        "max_utterance_s": 30.0,
    }
    options.update(overrides)
    return TurnPlanner(**options)  # type: ignore[arg-type]


def feed(turns: TurnPlanner, pattern: str) -> list[Decision]:
    """Frames as characters: ``#`` speech, ``.`` silence; one 32-ms frame of audio each."""
    decisions: list[Decision] = []
    for char in pattern:
        prob = np.array([0.9 if char == "#" else 0.05], dtype=np.float32)
        decisions += turns.feed(FRAME24, prob)
    return decisions


def sent(decisions: list[Decision]) -> int:
    return sum(d.stop - d.start for d in decisions if isinstance(d, Send))


def test_silence_sends_nothing_and_opens_no_turn() -> None:
    """Ten seconds of silence: no decision at all, nothing appended upstream."""
    assert feed(planner(), "." * 312) == []


def test_a_turn_sends_speech_with_padding_and_commits_after_the_silence() -> None:
    """One utterance: open at first speech minus the pad, send only speech ± pad, commit at
    speech end plus the pad, once ``commit_silence_ms`` of silence has passed."""
    turns = planner()
    decisions = feed(turns, "." * 40 + "#" * 50 + "." * 40)
    opens = [d for d in decisions if isinstance(d, Open)]
    commits = [d for d in decisions if isinstance(d, Commit)]
    assert opens == [Open(0, 40 * FRAME24 - PAD24, (40 * FRAME24 - PAD24) / 24_000)]
    assert len(commits) == 1
    assert commits[0].end == 90 * FRAME24 + PAD24
    assert sent(decisions) == 50 * FRAME24 + 2 * PAD24
    assert decisions.index(commits[0]) > max(
        i for i, d in enumerate(decisions) if isinstance(d, Send)
    )


def test_a_pause_shorter_than_the_commit_silence_stays_in_the_turn() -> None:
    """A 0.3-s pause inside speech: one turn, and the pause is sent once speech resumes."""
    decisions = feed(planner(), "#" * 30 + "." * 10 + "#" * 30 + "." * 40)
    assert [type(d) for d in decisions if not isinstance(d, Send)] == [Open, Commit]
    assert sent(decisions) == 70 * FRAME24 + PAD24


def test_pauses_between_turns_are_not_sent() -> None:
    """Two turns 3 s apart: upstream gets the speech and its padding, not the pause."""
    decisions = feed(planner(), "#" * 40 + "." * 94 + "#" * 40 + "." * 40)
    assert [d.segment for d in decisions if isinstance(d, Commit)] == [0, 1]
    speech = 80 * FRAME24
    assert sent(decisions) <= speech + 4 * PAD24
    assert sent(decisions) >= speech + 3 * PAD24


def test_a_short_noise_never_opens_a_turn() -> None:
    """Two frames of "speech" (64 ms, under the 160-ms minimum) open nothing."""
    assert feed(planner(), "." * 10 + "##" + "." * 40) == []


def test_flush_commits_a_candidate_too_short_to_confirm() -> None:
    """A push-to-talk release right after a short word commits it as a turn."""
    turns = planner()
    feed(turns, "." * 10 + "###")
    decisions = turns.flush()
    assert [type(d) for d in decisions if not isinstance(d, Send)] == [Open, Commit]


def test_flush_without_speech_does_nothing() -> None:
    """A flush in silence commits nothing (an empty commit would be billed and refused)."""
    turns = planner()
    feed(turns, "." * 20)
    assert turns.flush() == []


def test_a_long_turn_is_cut_at_a_pause_near_the_limit() -> None:
    """Speech beyond ``max_utterance_s`` is committed at a pause in its last 2 s, and a new
    turn continues right after the cut with nothing lost or sent twice."""
    turns = planner(max_utterance_s=5.0)
    pattern = "#" * 120 + "." * 3 + "#" * 100 + "." * 40
    decisions = feed(turns, pattern)
    commits = [d for d in decisions if isinstance(d, Commit)]
    opens = [d for d in decisions if isinstance(d, Open)]
    assert len(commits) == 2
    assert len(opens) == 2
    assert opens[1].start == commits[0].end
    assert 3.0 <= commits[0].end_s <= 5.1
    sends = [d for d in decisions if isinstance(d, Send)]
    for before, after in itertools.pairwise(sends):
        assert after.start >= before.stop


# -- transcript ------------------------------------------------------------------------------


def _delta(item: str, text: str) -> ConversationItemInputAudioTranscriptionDeltaEvent:
    return ConversationItemInputAudioTranscriptionDeltaEvent(
        type="conversation.item.input_audio_transcription.delta",
        event_id="e",
        item_id=item,
        delta=text,
    )


def _committed(item: str) -> InputAudioBufferCommittedEvent:
    return InputAudioBufferCommittedEvent(
        type="input_audio_buffer.committed", event_id="e", item_id=item, previous_item_id=None
    )


def _completed(item: str, text: str) -> ConversationItemInputAudioTranscriptionCompletedEvent:
    return ConversationItemInputAudioTranscriptionCompletedEvent.model_validate(
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "event_id": "e",
            "item_id": item,
            "content_index": 0,
            "transcript": text,
            "usage": {"type": "duration", "seconds": 2},
        }
    )


def test_deltas_before_the_commit_become_partials_of_our_segment() -> None:
    """Streaming text for the buffer being filled is the open segment's partial, accumulated."""
    transcript = ClientTranscript(final_timeout_s=10.0)
    events: list[EngineEvent] = transcript.opened(0, 2400, 0.1, gen=0)
    events += transcript.handle(0, _delta("item_a", "Hej"), 0.8)
    events += transcript.handle(0, _delta("item_a", " där"), 1.1)
    assert events == [
        SpeechStarted(0, 0.1),
        Partial(0, "Hej", 0.1, 0.8),
        Partial(0, "Hej där", 0.1, 1.1),
    ]
    transcript.committing(0, 36_000, 1.5, "commit_0", gen=0, now=0.0)
    events = transcript.handle(0, _committed("item_a"), 1.6)
    events += transcript.handle(0, _completed("item_a", "Hej där, du."), 1.7)
    assert events == [Final(0, "Hej där, du.", 0.1, 1.5)]
    assert transcript.idle()


def test_finals_are_released_in_our_commit_order() -> None:
    """A later turn completing first waits for the earlier one."""
    transcript = ClientTranscript(final_timeout_s=10.0)
    for segment in (0, 1):
        transcript.opened(segment, segment * 48_000, segment * 2.0, gen=0)
        transcript.committing(
            segment, segment * 48_000 + 24_000, segment * 2 + 1, f"c{segment}", 0, 0
        )
    transcript.handle(0, _committed("a"), 3.0)
    transcript.handle(0, _committed("b"), 3.0)
    assert transcript.handle(0, _completed("b", "two"), 3.0) == []
    finals = transcript.handle(0, _completed("a", "one"), 3.0)
    assert [(f.segment_id, f.text) for f in finals if isinstance(f, Final)] == [
        (0, "one"),
        (1, "two"),
    ]


def test_a_commit_answered_for_another_item_moves_early_text_to_the_next_turn() -> None:
    """If text guessed to be turn 0's belonged to turn 1's item, ``committed`` corrects it."""
    transcript = ClientTranscript(final_timeout_s=10.0)
    transcript.opened(0, 0, 0.0, gen=0)
    transcript.committing(0, 24_000, 1.0, "c0", 0, 0)
    transcript.opened(1, 30_000, 1.25, gen=0)
    transcript.handle(0, _delta("item_1", "second"), 2.0)  # taken by turn 0 at first
    transcript.handle(0, _committed("item_0"), 2.0)
    turn1 = transcript.turn(1)
    assert turn1 is not None
    assert (turn1.item, turn1.text) == ("item_1", "second")
    turn0 = transcript.turn(0)
    assert turn0 is not None
    assert (turn0.item, turn0.text) == ("item_0", "")


def test_a_lost_connection_hands_back_its_turns_with_their_text_cleared() -> None:
    """Resent turns start their text afresh, so partials never repeat words."""
    transcript = ClientTranscript(final_timeout_s=10.0)
    transcript.opened(0, 0, 0.0, gen=0)
    transcript.handle(0, _delta("x", "hello wor"), 1.0)
    [turn] = transcript.lost(0)
    assert (turn.segment_id, turn.text, turn.item) == (0, "", None)
    transcript.resent(0, gen=1)
    events = transcript.handle(1, _delta("y", "hello"), 1.5)
    assert events == [Partial(0, "hello", 0.0, 1.5)]


def test_an_overdue_turn_gets_an_error_and_its_text_and_the_next_goes_on() -> None:
    """The watchdog closes a turn whose ``completed`` never came; later finals follow."""
    transcript = ClientTranscript(final_timeout_s=5.0)
    transcript.opened(0, 0, 0.0, gen=0)
    transcript.handle(0, _delta("a", "stuck"), 1.0)
    transcript.committing(0, 24_000, 1.0, "c0", 0, now=100.0)
    transcript.opened(1, 48_000, 2.0, gen=0)
    transcript.committing(1, 72_000, 3.0, "c1", 0, now=101.0)
    transcript.handle(0, _committed("a"), 3.0)
    transcript.handle(0, _committed("b"), 3.0)
    assert transcript.handle(0, _completed("b", "fine"), 3.0) == []
    assert transcript.overdue(104.9) == []
    events = transcript.overdue(105.0)
    assert isinstance(events[0], EngineError)
    assert events[0].code == "final_timeout"
    assert [(f.segment_id, f.text) for f in events if isinstance(f, Final)] == [
        (0, "stuck"),
        (1, "fine"),
    ]


def test_an_empty_commit_refusal_closes_that_turn() -> None:
    """``input_audio_buffer_commit_empty`` for our commit ends its turn (text so far)."""
    transcript = ClientTranscript(final_timeout_s=5.0)
    transcript.opened(0, 0, 0.0, gen=0)
    transcript.committing(0, 1000, 0.04, "c0", 0, now=0.0)
    error = RealtimeErrorEvent(
        type="error",
        event_id="e",
        error=RealtimeError(
            type="invalid_request_error",
            code="input_audio_buffer_commit_empty",
            message="buffer too small",
            event_id="c0",
        ),
    )
    assert transcript.handle(0, error, 0.1) == [Final(0, "", 0.0, 0.04)]
