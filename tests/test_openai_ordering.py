"""Units of the OpenAI engine: commit order, the transcript assembler, history."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from realtime_stt.engine.protocol import EngineError, EngineEvent, Final, Partial, SpeechStarted
from realtime_stt.openai_engine.history import AudioHistory
from realtime_stt.openai_engine.ordering import CommitOrder
from realtime_stt.openai_engine.transcript import TranscriptAssembler
from tests.openai_fake.server_events import committed, completed, delta, error, failed
from tests.openai_fake.server_events import speech_started as started
from tests.openai_fake.server_events import speech_stopped as stopped

MS = 24  # samples per millisecond


def turn(
    asm: TranscriptAssembler, gen: int, item: str, start_ms: int, end_ms: int
) -> list[EngineEvent]:
    """Feed a VAD turn's started/stopped/committed events."""
    out: list[EngineEvent] = []
    out += asm.handle(gen, started(item, start_ms), end_ms * MS)
    out += asm.handle(gen, stopped(item, end_ms), end_ms * MS)
    out += asm.handle(gen, committed(item), end_ms * MS)
    return out


class TestCommitOrder:
    def test_releases_values_in_commit_order(self) -> None:
        """A value completed out of order waits for every earlier commit."""
        order: CommitOrder[str, int] = CommitOrder()
        for key in "abc":
            order.commit(key)
        order.complete("c", 3)
        order.complete("b", 2)
        assert order.pop_ready() == []
        order.complete("a", 1)
        assert order.pop_ready() == [1, 2, 3]
        assert len(order) == 0

    def test_previous_places_a_late_commit_after_its_predecessor(self) -> None:
        """A commit naming a pending ``previous`` is placed right after it."""
        order: CommitOrder[str, str] = CommitOrder()
        order.commit("a")
        order.commit("c", previous="b")
        order.commit("b", previous="a")
        for key in "cba":
            order.complete(key, key)
        assert order.pop_ready() == ["a", "b", "c"]

    def test_completion_before_commit_is_held(self) -> None:
        """A value completed before its key is committed is released only after the commit."""
        order: CommitOrder[int, int] = CommitOrder()
        order.complete(1, 10)
        assert order.pop_ready() == []
        order.commit(1)
        assert 1 in order
        assert order.pop_ready() == [10]

    @given(st.permutations(range(8)))
    def test_any_completion_order_yields_commit_order(self, completion: list[int]) -> None:
        """Whatever order completions arrive in, the released sequence is the commit order."""
        order: CommitOrder[int, int] = CommitOrder()
        for key in range(8):
            order.commit(key)
        released: list[int] = []
        for key in completion:
            order.complete(key, key)
            released += order.pop_ready()
            assert released == list(range(len(released)))
        assert released == list(range(8))


class TestAssembler:
    def test_a_turn_maps_to_started_partials_and_final_in_session_time(self) -> None:
        """Connection times are shifted by the connection's offset into session seconds."""
        asm = TranscriptAssembler()
        asm.connection_opened(0, offset=24_000)
        out = turn(asm, 0, "i1", 500, 1500)
        out += asm.handle(0, delta("i1", "hej"), 0)
        out += asm.handle(0, delta("i1", " du"), 0)
        out += asm.handle(0, completed("i1", " hej du "), 0)
        assert out == [
            SpeechStarted(0, 1.5),
            Partial(0, "hej", 1.5, 2.5),
            Partial(0, "hej du", 1.5, 2.5),
            Final(0, "hej du", 1.5, 2.5),
        ]
        assert asm.idle()

    def test_completions_out_of_order_are_released_in_commit_order(self) -> None:
        """A second turn's final waits until the first turn completes."""
        asm = TranscriptAssembler()
        asm.connection_opened(0, 0)
        turn(asm, 0, "a", 0, 1000)
        turn(asm, 0, "b", 1200, 2000)
        assert asm.handle(0, completed("b", "two"), 0) == []
        assert asm.handle(0, completed("a", "one"), 0) == [
            Final(0, "one", 0.0, 1.0),
            Final(1, "two", 1.2, 2.0),
        ]

    def test_failed_gives_an_error_and_an_empty_final(self) -> None:
        """``failed`` yields ``transcription_failed`` for the segment and an empty final."""
        asm = TranscriptAssembler()
        asm.connection_opened(0, 0)
        turn(asm, 0, "a", 0, 1000)
        assert asm.handle(0, failed("a"), 0) == [
            EngineError("transcription_failed", "boom", segment_id=0),
            Final(0, "", 0.0, 1.0),
        ]

    def test_upstream_errors_are_forwarded_with_a_prefixed_code(self) -> None:
        """An ``error`` event becomes ``upstream_error:<code>``, or ``:<type>`` without a code."""
        asm = TranscriptAssembler()
        asm.connection_opened(0, 0)
        assert asm.handle(0, error("rate_limit_exceeded"), 0) == [
            EngineError("upstream_error:rate_limit_exceeded", "m")
        ]
        assert asm.handle(0, error(None), 0) == [
            EngineError("upstream_error:invalid_request_error", "m")
        ]

    def test_commit_empty_for_our_commit_is_absorbed(self) -> None:
        """``input_audio_buffer_commit_empty`` answering our commit is silent and clears it."""
        asm = TranscriptAssembler()
        asm.connection_opened(0, 0)
        asm.commit_sent(0, "c1", 4800)
        assert asm.awaiting_commit(0)
        assert (
            asm.handle(0, error("input_audio_buffer_commit_empty", client_event_id="c1"), 0) == []
        )
        assert not asm.awaiting_commit(0)
        assert asm.idle()

    def test_session_expired_marks_the_connection(self) -> None:
        """``session_expired`` is not forwarded; it marks the connection for reconnection."""
        asm = TranscriptAssembler()
        asm.connection_opened(0, 0)
        assert asm.handle(0, error("session_expired"), 0) == []
        assert asm.expired(0)

    def test_our_commit_uses_the_boundary_we_sent(self) -> None:
        """An item committed by our commit without speech events spans up to our boundary."""
        asm = TranscriptAssembler()
        asm.connection_opened(0, 0)
        asm.commit_sent(0, "c1", 7200)
        out = asm.handle(0, committed("x"), 9600)
        out += asm.handle(0, completed("x", "ok"), 9600)
        assert out == [SpeechStarted(0, 0.0), Final(0, "ok", 0.0, 0.3)]
        assert asm.commit_point(0) == 7200

    def test_a_commit_is_due_from_100_ms_or_padded_when_finishing_owed_speech(self) -> None:
        """``commit_due``: none under 100 ms uncommitted (upstream refuses it), none at all when
        nothing is owed; at the end, with speech open, the rest of 100 ms as silence first."""
        asm = TranscriptAssembler()
        asm.connection_opened(0, 0)
        assert asm.commit_due(0, 0, finishing=True) is None
        assert asm.commit_due(0, 2_399) is None
        assert asm.commit_due(0, 2_400) == 0
        assert asm.commit_due(0, 1_000, finishing=True) is None  # no speech owed
        asm.handle(0, started("a", 10), 1_000)
        assert asm.commit_due(0, 1_000) is None
        assert asm.commit_due(0, 1_000, finishing=True) == 1_400
        assert asm.commit_due(0, 3_000, finishing=True) == 0
        asm.commit_sent(0, "c1", 3_000)
        assert asm.commit_due(0, 3_100, finishing=True) == 2_300

    def test_a_silent_item_from_our_commit_is_a_ghost(self) -> None:
        """Our commit over silence creates no segment and its transcript is ignored."""
        asm = TranscriptAssembler(is_silent=lambda start, stop: True)
        asm.connection_opened(0, 0)
        asm.commit_sent(0, "c1", 7200)
        assert asm.handle(0, committed("x"), 7200) == []
        assert asm.handle(0, completed("x", "Thank you."), 7200) == []
        assert asm.idle()

    def test_a_lost_connection_orphans_owed_segments_for_the_next_one(self) -> None:
        """Committed-but-incomplete and open segments are resent and adopted, keeping their ids."""
        asm = TranscriptAssembler()
        asm.connection_opened(0, 0)
        turn(asm, 0, "a", 0, 1000)
        asm.handle(0, completed("a", "one"), 0)
        turn(asm, 0, "b", 1200, 2000)
        asm.handle(0, started("c", 2200), 0)
        resume, events = asm.connection_lost(0)
        assert events == []
        assert (resume.resend_from, resume.owed) == (1000 * MS, True)
        asm.connection_opened(1, resume.resend_from)
        out = turn(asm, 1, "b2", 150, 1000)
        out += turn(asm, 1, "c2", 1150, 1800)
        out += asm.handle(1, started("d2", 2000), 0)
        out += asm.handle(1, completed("c2", "three"), 0)
        out += asm.handle(1, completed("b2", "two"), 0)
        assert out == [
            SpeechStarted(3, 3.0),
            Final(1, "two", 1.2, 2.0),
            Final(2, "three", 2.2, 2.8),
        ]

    def test_an_adopted_orphan_starts_its_text_afresh(self) -> None:
        """Deltas received before a drop are not repeated: the adopting item's partials restart."""
        asm = TranscriptAssembler()
        asm.connection_opened(0, 0)
        asm.handle(0, started("a", 0), 0)
        asm.handle(0, delta("a", "hello wor"), 0)
        resume, _ = asm.connection_lost(0)
        asm.connection_opened(1, resume.resend_from)
        out = asm.handle(1, started("a2", 0), 0)
        out += asm.handle(1, delta("a2", "hello"), 0)
        out += asm.handle(1, delta("a2", " world"), 0)
        assert [e.text for e in out if isinstance(e, Partial)] == ["hello", "hello world"]

    def test_a_stranded_commit_before_a_completed_one_is_given_up(self) -> None:
        """A committed segment older than a completed one gets ``upstream_lost`` and its text."""
        asm = TranscriptAssembler()
        asm.connection_opened(0, 0)
        turn(asm, 0, "a", 0, 1000)
        asm.handle(0, delta("a", "par"), 0)
        turn(asm, 0, "b", 1200, 2000)
        asm.handle(0, completed("b", "two"), 0)
        resume, events = asm.connection_lost(0)
        assert [type(e).__name__ for e in events] == ["EngineError", "Final", "Final"]
        assert isinstance(events[0], EngineError)
        assert (events[0].code, events[0].segment_id) == ("upstream_lost", 0)
        assert events[1:] == [Final(0, "par", 0.0, 1.0), Final(1, "two", 1.2, 2.0)]
        assert (resume.resend_from, resume.owed) == (2000 * MS, False)

    def test_unanswered_commits_are_returned_as_commit_points(self) -> None:
        """Our commits still unanswered when a connection dies are replayed at their positions."""
        asm = TranscriptAssembler()
        asm.connection_opened(0, 0)
        asm.handle(0, started("a", 0), 0)
        asm.commit_sent(0, "c1", 4800)
        resume, _ = asm.connection_lost(0)
        assert resume.commit_points == (4800,)
        assert resume.resend_from == 0

    def test_abandon_all_reports_once_and_closes_every_segment(self) -> None:
        """Giving up emits the error once, then a final with the partial text per segment."""
        asm = TranscriptAssembler()
        asm.connection_opened(0, 0)
        turn(asm, 0, "a", 0, 1000)
        asm.handle(0, delta("a", "so far"), 0)
        asm.handle(0, started("b", 1200), 0)
        timeout = EngineError("final_timeout", "late")
        assert asm.abandon_all(timeout) == [
            timeout,
            Final(0, "so far", 0.0, 1.0),
            Final(1, "", 1.2, 1.2),
        ]
        assert asm.idle()

    def test_orphans_nobody_adopts_are_finished_when_settled(self) -> None:
        """An orphan left after the new connection committed everything gets its final."""
        asm = TranscriptAssembler()
        asm.connection_opened(0, 0)
        asm.handle(0, started("a", 0), 0)
        resume, _ = asm.connection_lost(0)
        asm.connection_opened(1, resume.resend_from)
        assert asm.settled()
        assert not asm.idle()
        assert asm.finish_orphans() == [Final(0, "", 0.0, 0.0)]
        assert asm.idle()

    def test_a_draining_connection_ignores_new_speech(self) -> None:
        """After ``begin_drain`` a connection only finishes what it had already started."""
        asm = TranscriptAssembler()
        asm.connection_opened(0, 0)
        turn(asm, 0, "a", 0, 1000)
        asm.begin_drain(0)
        assert asm.handle(0, started("b", 1200), 0) == []
        assert not asm.drained(0)
        asm.handle(0, completed("a", "one"), 0)
        assert asm.drained(0)

    @given(st.permutations(range(5)), st.sets(st.integers(0, 4)))
    def test_any_completion_order_gives_one_final_per_segment_in_order(
        self, completion: list[int], failing: set[int]
    ) -> None:
        """Completions and failures in any order give exactly one final per turn, in turn order."""
        asm = TranscriptAssembler()
        asm.connection_opened(0, 0)
        for index in range(5):
            turn(asm, 0, f"i{index}", index * 1000, index * 1000 + 800)
        out: list[EngineEvent] = []
        for index in completion:
            item = f"i{index}"
            event = failed(item) if index in failing else completed(item, f"t{index}")
            out += asm.handle(0, event, 0)
        got = [(f.segment_id, f.text) for f in out if isinstance(f, Final)]
        assert got == [(i, "" if i in failing else f"t{i}") for i in range(5)]
        assert asm.idle()


class TestHistory:
    def test_slices_by_session_sample_and_trims_lazily(self) -> None:
        """Slices are addressed by session sample; trimming frees whole seconds only."""
        history = AudioHistory()
        pcm = np.arange(48_000, dtype="<i2").tobytes()
        history.append(pcm)
        assert history.end == 48_000
        assert history.slice(10, 12) == pcm[20:24]
        history.trim_before(1_000)
        assert history.base == 0
        history.trim_before(30_000)
        assert history.base == 30_000
        assert history.slice(0, 30_002) == pcm[60_000:60_004]
        assert history.slice(50_000, 60_000) == b""

    def test_peak_rms_finds_the_loudest_frame(self) -> None:
        """The silence probe reports the loudest 10 ms frame, so one loud frame counts."""
        history = AudioHistory()
        quiet = np.zeros(2_400, dtype="<i2")
        loud = np.full(240, 16_384, dtype="<i2")
        history.append(np.concatenate([quiet, loud, quiet]).tobytes())
        assert history.peak_rms(0, 2_400) == 0.0
        assert abs(history.peak_rms(0, 5_040) - 0.5) < 1e-6


@pytest.fixture
def anyio_backend() -> str:
    """Run the async tests here on asyncio."""
    return "asyncio"
