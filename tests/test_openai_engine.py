"""The OpenAI engine against the strict fake upstream: the normal paths."""

from __future__ import annotations

import base64
import json
from dataclasses import replace

import pytest
from openai.types.realtime import (
    ConversationItemInputAudioTranscriptionCompletedEvent,
    InputAudioBufferAppendEvent,
    InputAudioBufferCommitEvent,
    SessionUpdateEvent,
)
from pydantic import SecretStr

from realtime_stt.engine.protocol import (
    EngineEvent,
    Final,
    Partial,
    SessionConfig,
    SpeechStarted,
)
from realtime_stt.openai_engine import OpenAIEngine, Tuning
from realtime_stt.settings import Settings
from tests.openai_fake import FakeRealtimeServer, Scenario
from tests.openai_fake.audio import silence, tone
from tests.openai_fake.harness import (
    FAST,
    Step,
    collect,
    errors,
    finals,
    push,
    started_engine,
    transcribe,
    utterances,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    """Run these tests on asyncio (websockets needs it)."""
    return "asyncio"


def _final_tuples(events: list[EngineEvent]) -> list[tuple[int, str, float, float]]:
    return [(f.segment_id, f.text, round(f.start_s, 3), round(f.end_s, 3)) for f in finals(events)]


class TestEngineObject:
    async def test_declares_its_input_rate_by_who_ends_turns(self) -> None:
        """The default (streaming) model takes 16 kHz for our VAD; a server-VAD model 24 kHz."""
        settings = Settings(_env_file=None, engine="openai", openai_api_key=SecretStr("k"))
        engine = OpenAIEngine(settings)
        assert engine.name == "openai"
        assert engine.model == settings.openai_realtime_model == "gpt-live-transcribe"
        assert engine.capabilities.input_sample_rate == 16_000
        assert engine.capabilities.interim_results
        assert not engine.capabilities.word_timestamps
        assert not engine.ready
        await engine.start()
        assert engine.ready
        await engine.aclose()
        assert not engine.ready
        turn_based = settings.model_copy(update={"openai_realtime_model": "gpt-transcribe"})
        assert OpenAIEngine(turn_based).capabilities.input_sample_rate == 24_000

    async def test_start_refuses_a_missing_key(self) -> None:
        """Starting without an API key raises instead of failing every session later."""
        engine = OpenAIEngine(Settings(_env_file=None, engine="local"))
        with pytest.raises(RuntimeError, match="OPENAI_API_KEY"):
            await engine.start()

    async def test_start_refuses_a_base_url_that_is_not_http(self) -> None:
        """Starting with an ``OPENAI_BASE_URL`` that is not http(s) or ws(s) raises."""
        settings = Settings(
            _env_file=None, openai_api_key=SecretStr("k"), openai_base_url="ftp://example.com/v1"
        )
        with pytest.raises(RuntimeError, match="OPENAI_BASE_URL"):
            await OpenAIEngine(settings).start()

    async def test_open_session_before_start_raises(self) -> None:
        """Opening a session on an engine that was not started raises ``RuntimeError``."""
        engine = OpenAIEngine(Settings(_env_file=None, openai_api_key=SecretStr("k")))
        with pytest.raises(RuntimeError, match="not started"):
            async with engine.open_session(SessionConfig("s", "sv")):
                pass


class TestProtocol:
    async def test_connects_with_the_ga_transcription_handshake(self) -> None:
        """The connection uses ``/v1/realtime?intent=transcription``, a bearer key, and no beta."""
        async with FakeRealtimeServer() as fake:
            await transcribe(await started_engine(fake), [utterances(440)])
        [connection] = fake.connections
        assert connection.path == "/v1/realtime"
        assert connection.query == {"intent": ["transcription"]}
        assert connection.headers["authorization"] == "Bearer sk-test-key"
        assert "openai-beta" not in connection.headers
        assert connection.refused == []

    async def test_sends_a_full_transcription_session_update_first(self) -> None:
        """The first client event configures 24 kHz PCM, the model, language and server VAD."""
        async with FakeRealtimeServer() as fake:
            await transcribe(await started_engine(fake), [utterances(440)])
        first = fake.connections[0].received[0]
        assert isinstance(first, SessionUpdateEvent)
        session = json.loads(first.to_json())["session"]
        assert session == {
            "type": "transcription",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "noise_reduction": {"type": "near_field"},
                    "transcription": {"model": "gpt-transcribe", "language": "sv"},
                    "turn_detection": {
                        "type": "server_vad",
                        "threshold": 0.5,
                        "prefix_padding_ms": 100,
                        "silence_duration_ms": 300,
                    },
                }
            },
        }

    async def test_batches_audio_into_100ms_appends_of_the_pushed_audio(self) -> None:
        """20 ms pushes go upstream as 100 ms base64 appends carrying exactly the pushed bytes."""
        audio = utterances(440, 300) + tone(550, 0.05)
        async with FakeRealtimeServer() as fake:
            await transcribe(await started_engine(fake), [audio])
        connection = fake.connections[0]
        assert connection.append_sizes[:-1] == [4800] * (len(connection.append_sizes) - 1)
        assert 0 < connection.append_sizes[-1] <= 4800
        appended = b"".join(
            base64.b64decode(event.audio)
            for event in connection.received_of(InputAudioBufferAppendEvent)
        )
        assert appended == bytes(connection.audio) == audio

    async def test_the_fake_hears_the_tones_at_their_true_pitch(self) -> None:
        """Audio reaches upstream at 24 kHz: each turn's pitch and voiced length are exact."""
        async with FakeRealtimeServer() as fake:
            await transcribe(await started_engine(fake), [utterances(440, 300)])
        heard = [turn for turn in fake.turns if turn.frequency is not None]
        assert [round(turn.frequency or 0) for turn in heard] == [440, 300]
        assert [turn.voiced_ms for turn in heard] == [400, 400]


class TestTranscripts:
    async def test_turns_give_started_partials_and_finals_in_session_time(self) -> None:
        """Each VAD turn yields SpeechStarted, growing partials, and one final with its times."""
        async with FakeRealtimeServer() as fake:
            events = await transcribe(await started_engine(fake), [utterances(440, 300)])
        started = [e for e in events if isinstance(e, SpeechStarted)]
        assert started == [SpeechStarted(0, 0.0), SpeechStarted(1, 0.8)]
        partials = [e.text for e in events if isinstance(e, Partial) and e.segment_id == 0]
        assert partials == ["tone", "tone 440", "tone 440 hz"]
        assert _final_tuples(events) == [(0, "tone 440 hz", 0.0, 0.7), (1, "tone 300 hz", 0.8, 1.6)]
        assert errors(events) == []

    async def test_out_of_order_completions_are_released_in_commit_order(self) -> None:
        """A later turn completing first waits for the earlier turn's final."""
        async with FakeRealtimeServer(Scenario(extra_delay_s={0: 0.3})) as fake:
            events = await transcribe(await started_engine(fake), [utterances(440, 300)])
        completed = fake.connections[0].sent_of(
            ConversationItemInputAudioTranscriptionCompletedEvent
        )
        texts = [event.transcript for event in completed if event.transcript]
        assert texts == ["tone 300 hz", "tone 440 hz"]
        assert [(f.segment_id, f.text) for f in finals(events)] == [
            (0, "tone 440 hz"),
            (1, "tone 300 hz"),
        ]

    async def test_failed_transcription_gives_an_error_and_an_empty_final(self) -> None:
        """An upstream ``failed`` item becomes ``transcription_failed`` plus an empty final."""
        async with FakeRealtimeServer(Scenario(fail_turns=frozenset({0}))) as fake:
            events = await transcribe(await started_engine(fake), [utterances(440, 300)])
        [error] = errors(events)
        assert (error.code, error.segment_id, error.fatal) == ("transcription_failed", 0, False)
        assert [(f.segment_id, f.text) for f in finals(events)] == [(0, ""), (1, "tone 300 hz")]
        assert events.index(error) < events.index(finals(events)[0])

    async def test_upstream_error_event_is_forwarded_and_the_session_goes_on(self) -> None:
        """An upstream ``error`` event becomes a non-fatal ``upstream_error:<code>``."""
        async with FakeRealtimeServer(Scenario(error_after_appends=2)) as fake:
            events = await transcribe(await started_engine(fake), [utterances(440, 300)])
        [error] = errors(events)
        assert error.code == "upstream_error:scripted_error"
        assert not error.fatal
        assert [f.text for f in finals(events)] == ["tone 440 hz", "tone 300 hz"]


class TestCommits:
    async def test_flush_commits_only_with_at_least_100ms_uncommitted(self) -> None:
        """A flush after 50 ms sends no commit; a flush after 300 ms commits and finalizes."""
        async with FakeRealtimeServer() as fake:
            engine = await started_engine(fake)
            steps: list[Step] = [tone(440, 0.05), "flush", tone(440, 0.25), "flush"]
            events = await transcribe(engine, steps)
        received = fake.connections[0].received_types()
        assert received.count("input_audio_buffer.commit") == 1
        assert received[-1] == "input_audio_buffer.commit"
        assert fake.connections[0].refused == []
        assert _final_tuples(events) == [(0, "tone 440 hz", 0.0, 0.3)]

    async def test_end_input_commits_the_tail_and_ends_after_every_final(self) -> None:
        """Speech still open at ``end_input`` is committed; the stream ends after its final."""
        async with FakeRealtimeServer() as fake:
            audio = utterances(440) + tone(300, 0.4)
            events = await transcribe(await started_engine(fake), [audio])
        assert fake.connections[0].received_types()[-1] == "input_audio_buffer.commit"
        assert _final_tuples(events) == [(0, "tone 440 hz", 0.0, 0.7), (1, "tone 300 hz", 0.8, 1.3)]
        assert isinstance(events[-1], Final)

    async def test_end_input_without_audio_ends_at_once(self) -> None:
        """A session that got no audio ends right after ``end_input`` with no events."""
        async with FakeRealtimeServer() as fake:
            events = await transcribe(await started_engine(fake), [])
        assert events == []
        assert fake.connections[0].received_types() == ["session.update"]

    async def test_a_silent_tail_committed_at_the_end_gives_no_utterance(self) -> None:
        """The commit of a silent tail at ``end_input`` creates no segment and no events."""
        async with FakeRealtimeServer() as fake:
            events = await transcribe(await started_engine(fake), [utterances(440) + silence(0.3)])
        assert fake.connections[0].received_types()[-1] == "input_audio_buffer.commit"
        assert [turn.text for turn in fake.turns] == ["tone 440 hz", ""]
        assert [type(e).__name__ for e in events if not isinstance(e, Partial)] == [
            "SpeechStarted",
            "Final",
        ]

    async def test_a_zero_silence_gate_keeps_a_silent_commit_as_an_empty_utterance(self) -> None:
        """With ``silence_rms=0`` a committed silent tail yields an empty final."""
        async with FakeRealtimeServer() as fake:
            engine = await started_engine(fake, replace(FAST, silence_rms=0.0))
            events = await transcribe(engine, [silence(0.3)])
        assert events == [SpeechStarted(0, 0.0), Final(0, "", 0.0, 0.3)]

    async def test_audio_after_end_input_is_ignored(self) -> None:
        """``push_audio`` and ``flush`` after ``end_input`` change nothing upstream."""
        async with FakeRealtimeServer() as fake:
            engine = await started_engine(fake)
            async with engine.open_session(SessionConfig("s", "sv")) as session:
                push(session, utterances(440))
                session.end_input()
                push(session, tone(300, 1.0))
                session.flush()
                events = await collect(session)
        assert len(fake.connections[0].audio) == len(utterances(440))
        assert len(fake.connections[0].received_of(InputAudioBufferCommitEvent)) == 1
        assert [f.text for f in finals(events)] == ["tone 440 hz"]

    async def test_a_backlog_beyond_the_limit_ends_the_session(self) -> None:
        """Queuing more unsent audio than ``max_backlog_s`` gives a fatal ``engine_overloaded``."""
        tuning = Tuning(max_backlog_s=0.5, connect_timeout_s=1.0)
        async with FakeRealtimeServer() as fake:
            engine = await started_engine(fake, tuning)
            async with engine.open_session(SessionConfig("s", "sv")) as session:
                push(session, silence(1.0))
                events = await collect(session)
        [error] = errors(events)
        assert events == [error]
        assert (error.code, error.fatal) == ("engine_overloaded", True)

    async def test_leaving_the_context_early_closes_the_upstream_connection(self) -> None:
        """Exiting the session context mid-stream cancels its tasks and closes the socket."""
        async with FakeRealtimeServer() as fake:
            engine = await started_engine(fake, FAST)
            async with engine.open_session(SessionConfig("s", "sv")) as session:
                push(session, utterances(440))
                async for event in session:
                    if isinstance(event, Final):
                        break
        assert fake.connections[0].close_code == 1000
