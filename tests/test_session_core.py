"""The sans-I/O session core: protocol rules with no socket and no event loop."""

from __future__ import annotations

import json

import numpy as np
import pytest

from realtime_stt import wire
from realtime_stt.engine import protocol as ev
from realtime_stt.outbox import Message
from realtime_stt.session_core import (
    Action,
    Close,
    EndEngineInput,
    FlushEngine,
    PushAudio,
    Send,
    SessionCore,
    State,
)


def make_core(**overrides: float) -> SessionCore:
    values: dict[str, float] = {"max_frame_bytes": 1024, "max_session_seconds": 10.0}
    values.update(overrides)
    return SessionCore(
        session_id="s1",
        sample_rate=16_000,
        max_frame_bytes=int(values["max_frame_bytes"]),
        max_session_seconds=values["max_session_seconds"],
    )


def sent(actions: list[Action]) -> list[Message]:
    return [a.message for a in actions if isinstance(a, Send)]


def errors(actions: list[Action]) -> list[str]:
    return [m.code for m in sent(actions) if isinstance(m, wire.Error)]


def pcm(samples: int) -> bytes:
    return np.arange(samples, dtype="<i2").tobytes()


class TestAudioFrames:
    def test_odd_byte_is_carried_into_the_next_frame(self) -> None:
        """A sample split across two frames arrives whole, in order."""
        core = make_core()
        data = pcm(5)
        first = core.receive_bytes(data[:3])
        second = core.receive_bytes(data[3:])
        pushed = [a.samples for a in first + second if isinstance(a, PushAudio)]
        assert np.concatenate(pushed).tolist() == [0, 1, 2, 3, 4]
        assert core.received_samples == 5

    def test_empty_frames_are_ignored(self) -> None:
        """An empty binary frame produces no action."""
        assert make_core().receive_bytes(b"") == []

    def test_oversized_frame_gets_an_error_then_close_1009(self) -> None:
        """A frame over the limit is answered with frame_too_large and a 1009 close."""
        core = make_core()
        actions = core.receive_bytes(b"\0" * 2048)
        assert errors(actions) == ["frame_too_large"]
        assert Close(1009, "") in actions
        assert core.state is State.CLOSED

    def test_session_length_limit_ends_input(self) -> None:
        """Audio past the session limit is cut, reported once, and ends the engine's input."""
        core = make_core(max_frame_bytes=1 << 20, max_session_seconds=0.01)
        actions = core.receive_bytes(pcm(400))
        pushed = [a for a in actions if isinstance(a, PushAudio)]
        assert sum(a.samples.size for a in pushed) == 160
        assert errors(actions) == ["session_too_long"]
        assert any(isinstance(a, EndEngineInput) for a in actions)
        assert core.receive_bytes(pcm(10)) == []  # already told: no second error


class TestControlMessages:
    @pytest.mark.parametrize(
        ("text", "code"),
        [
            ("not json", "invalid_json"),
            ('{"type": "dance"}', "unknown_message"),
            ("[1, 2]", "invalid_message"),
            ('{"type": "flush", "extra": 1}', "invalid_message"),
        ],
    )
    def test_bad_text_frames_get_an_error_and_the_session_goes_on(
        self, text: str, code: str
    ) -> None:
        """Each malformed control message gets its stable error code; the session stays open."""
        core = make_core()
        assert errors(core.receive_text(text)) == [code]
        assert core.state is State.OPEN

    def test_flush_asks_the_engine_to_finalize(self) -> None:
        """``flush`` becomes a single FlushEngine action."""
        assert make_core().receive_text(json.dumps({"type": "flush"})) == [FlushEngine()]

    def test_end_twice_is_an_error_the_second_time(self) -> None:
        """The first ``end`` ends input; a second gets already_ended."""
        core = make_core()
        assert core.receive_text('{"type":"end"}') == [EndEngineInput()]
        assert errors(core.receive_text('{"type":"end"}')) == ["already_ended"]

    def test_close_1000_only_after_the_engine_finishes(self) -> None:
        """After ``end`` the core waits for the engine, then closes normally."""
        core = make_core()
        core.receive_text('{"type":"end"}')
        core.receive_bytes(pcm(100))
        actions = core.engine_finished()
        assert actions[-1] == Close(1000, "end of input")


class TestEngineEvents:
    def test_timestamps_stay_within_received_audio(self) -> None:
        """Engine times past the audio received are clamped to it."""
        core = make_core()
        core.receive_bytes(pcm(400))  # 0.025 s
        (message,) = sent(core.engine_event(ev.Partial(0, "hi", 0.0, 5.0)))
        assert isinstance(message, wire.Partial)
        assert message.ts.end_s == pytest.approx(0.025)

    def test_timestamps_never_run_backwards(self) -> None:
        """A later segment never starts before the previous final ended; ends never shrink."""
        core = make_core(max_frame_bytes=1 << 20)
        core.receive_bytes(pcm(16_000 * 3))
        core.engine_event(ev.Partial(0, "a", 0.5, 1.5))
        (shrunk,) = sent(core.engine_event(ev.Partial(0, "a b", 0.5, 1.0)))
        assert isinstance(shrunk, wire.Partial)
        assert shrunk.ts.end_s == 1.5
        core.engine_event(ev.Final(0, "a b", 0.5, 2.0))
        (started,) = sent(core.engine_event(ev.SpeechStarted(1, 1.8)))
        assert isinstance(started, wire.SpeechStarted)
        assert started.ts.start_s == 2.0

    def test_exactly_one_final_per_segment(self) -> None:
        """Events for a segment that already has its final are dropped."""
        core = make_core(max_frame_bytes=1 << 20)
        core.receive_bytes(pcm(16_000))
        assert len(sent(core.engine_event(ev.Final(0, "x", 0.0, 0.5)))) == 1
        assert core.engine_event(ev.Final(0, "again", 0.0, 0.5)) == []
        assert core.engine_event(ev.Partial(0, "late", 0.0, 0.5)) == []

    def test_words_are_clamped_into_the_final(self) -> None:
        """Word times lie inside the final's span and do not run backwards."""
        core = make_core(max_frame_bytes=1 << 20)
        core.receive_bytes(pcm(16_000))
        words = (ev.WordTiming(" a", 0.2, 0.4), ev.WordTiming("b", 0.1, 9.0))
        (final,) = sent(core.engine_event(ev.Final(0, "a b", 0.1, 0.8, words)))
        assert isinstance(final, wire.Final)
        assert final.words is not None
        assert [(w.word, w.start_s, w.end_s) for w in final.words] == [
            ("a", 0.2, 0.4),
            ("b", 0.2, 0.8),
        ]

    def test_fatal_engine_error_closes_open_segments_then_1011(self) -> None:
        """A fatal error is forwarded, open segments get empty finals, then close 1011."""
        core = make_core()
        core.receive_bytes(pcm(100))
        core.engine_event(ev.SpeechStarted(0, 0.0))
        actions = core.engine_event(ev.EngineError("boom", "it broke", fatal=True))
        messages = sent(actions)
        assert isinstance(messages[0], wire.Error)
        assert isinstance(messages[1], wire.Final)
        assert messages[1].text == ""
        assert actions[-1] == Close(1011, "")

    def test_engine_stopping_unasked_is_an_error(self) -> None:
        """If the engine stops before ``end``, the client hears engine_stopped and 1011."""
        core = make_core()
        actions = core.engine_finished()
        assert errors(actions) == ["engine_stopped"]
        assert actions[-1] == Close(1011, "")


class TestShutdownAndIdle:
    def test_shutdown_is_its_own_state_told_once(self) -> None:
        """A drain tells the client shutting_down once; its later audio and control messages
        are dropped without audio_after_end; the close after the finals is 1001."""
        core = make_core()
        core.receive_bytes(pcm(320))
        actions = core.shutdown()
        assert core.state is State.DRAINING
        assert errors(actions) == ["shutting_down"]
        assert any(isinstance(a, EndEngineInput) for a in actions)
        assert core.receive_bytes(pcm(320)) == []
        assert core.receive_text(json.dumps({"type": "end"})) == []
        assert core.shutdown() == []
        assert core.engine_finished() == [Close(1001, "server shutting down")]

    def test_shutdown_after_end_only_changes_the_close_code(self) -> None:
        """A session that already sent end is not told again; it still closes with 1001."""
        core = make_core()
        core.receive_text(json.dumps({"type": "end"}))
        assert core.shutdown() == []
        assert core.engine_finished() == [Close(1001, "server shutting down")]

    def test_idle_timeout_tells_the_client_and_ends_the_input(self) -> None:
        """idle_timeout: the error, the engine's input ended, then 1008 after the finals."""
        core = make_core()
        actions = core.idle_timeout(60.0)
        assert errors(actions) == ["idle_timeout"]
        assert any(isinstance(a, EndEngineInput) for a in actions)
        assert core.receive_bytes(pcm(320)) == []  # dropped without audio_after_end
        assert core.engine_finished() == [Close(1008, "idle timeout")]
        assert core.idle_timeout(60.0) == []

    def test_a_client_not_reading_is_closed_at_once_with_1008(self) -> None:
        """client_not_reading: close 1008 ``client_too_slow`` at once, with no message (the
        client takes none); after it no audio reaches the engine and no event the client."""
        core = make_core()
        core.engine_event(ev.SpeechStarted(0, 0.0))
        assert core.client_not_reading() == [Close(1008, "client_too_slow")]
        assert core.state is State.CLOSED
        assert core.receive_bytes(pcm(320)) == []
        assert core.engine_event(ev.Final(0, "late", 0.0, 0.0)) == []
        assert core.client_not_reading() == []
