"""The OpenAI engine against a misbehaving fake upstream: refusals, stalls, drops, rotation."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import anyio
import pytest
from openai.types.realtime import InputAudioBufferClearEvent, SessionUpdateEvent

from realtime_stt.engine.protocol import EngineEvent, Final, SessionConfig, SpeechStarted
from realtime_stt.openai_engine import OpenAIEngine
from tests.openai_fake import FakeRealtimeServer, Scenario
from tests.openai_fake.audio import silence, tone
from tests.openai_fake.harness import (
    FAST,
    collect,
    errors,
    finals,
    push,
    settings_for,
    started_engine,
    transcribe,
    until,
    utterances,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    """Run these tests on asyncio (websockets needs it)."""
    return "asyncio"


def _final_tuples(events: list[EngineEvent]) -> list[tuple[int, str, float, float]]:
    return [(f.segment_id, f.text, round(f.start_s, 3), round(f.end_s, 3)) for f in finals(events)]


THREE_TURNS = [
    (0, "tone 440 hz", 0.0, 0.7),
    (1, "tone 300 hz", 0.8, 1.6),
    (2, "tone 550 hz", 1.7, 2.5),
]


class TestRefusals:
    async def test_a_wrong_key_is_a_quick_fatal_auth_error(self) -> None:
        """HTTP 401 on the handshake ends the session at once with ``upstream_auth_failed``."""
        async with FakeRealtimeServer() as fake:
            engine = await started_engine(fake, key="sk-wrong")
            started = time.monotonic()
            events = await transcribe(engine, [utterances(440)])
        assert time.monotonic() - started < 1.0
        [error] = errors(events)
        assert events == [error]
        assert (error.code, error.fatal) == ("upstream_auth_failed", True)
        assert [h.status for h in fake.handshakes] == [401]

    async def test_a_forbidden_handshake_is_an_auth_error(self) -> None:
        """HTTP 403 on the handshake is ``upstream_auth_failed`` too, without retries."""
        async with FakeRealtimeServer(Scenario(refuse_status=403)) as fake:
            events = await transcribe(await started_engine(fake), [utterances(440)])
        assert [(e.code, e.fatal) for e in errors(events)] == [("upstream_auth_failed", True)]
        assert len(fake.handshakes) == 1

    async def test_a_server_error_handshake_is_retried_then_fatal(self) -> None:
        """HTTP 500 is retried ``max_attempts`` times, then ends as ``upstream_unavailable``."""
        async with FakeRealtimeServer(Scenario(refuse_status=500)) as fake:
            events = await transcribe(await started_engine(fake), [utterances(440)])
        [error] = errors(events)
        assert events == [error]
        assert (error.code, error.fatal) == ("upstream_unavailable", True)
        assert "HTTP 500" in error.message
        assert [h.status for h in fake.handshakes] == [500, 500, 500]

    async def test_an_unreachable_host_is_retried_then_fatal(self) -> None:
        """A refused TCP connection ends as ``upstream_unavailable`` after the retries."""
        async with FakeRealtimeServer() as fake:
            engine = await started_engine(fake)
        events = await transcribe(engine, [utterances(440)])
        assert [(e.code, e.fatal) for e in errors(events)] == [("upstream_unavailable", True)]

    async def test_a_stalled_server_gives_a_bounded_fatal_error(self) -> None:
        """A server that accepts but never answers fails each attempt after the connect timeout."""
        tuning = replace(FAST, connect_timeout_s=0.2, max_attempts=2)
        async with FakeRealtimeServer(Scenario(stall=True)) as fake:
            started = time.monotonic()
            events = await transcribe(await started_engine(fake, tuning), [utterances(440)])
        assert time.monotonic() - started < 1.5
        [error] = errors(events)
        assert events == [error]
        assert (error.code, error.fatal) == ("upstream_unavailable", True)
        assert "session.updated" in error.message
        assert len(fake.connections) == 2

    async def test_a_refused_session_update_is_fatal_without_retries(self) -> None:
        """An ``error`` answering ``session.update`` is a fatal ``upstream_error:<code>``."""
        scenario = Scenario(models=frozenset({"gpt-4o-transcribe"}))
        async with FakeRealtimeServer(scenario) as fake:
            events = await transcribe(await started_engine(fake), [utterances(440)])
        [error] = errors(events)
        assert events == [error]
        assert (error.code, error.fatal) == ("upstream_error:invalid_value", True)
        assert len(fake.connections) == 1

    async def test_a_server_that_never_answers_the_upgrade_times_out(self) -> None:
        """A TCP peer that never answers the HTTP upgrade fails each attempt at the timeout."""
        peers: list[asyncio.StreamWriter] = []

        async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            peers.append(writer)

        server = await asyncio.start_server(accept, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        tuning = replace(FAST, connect_timeout_s=0.2, max_attempts=2)
        async with FakeRealtimeServer() as fake:
            settings = settings_for(fake).model_copy(
                update={"openai_base_url": f"http://127.0.0.1:{port}/v1"}
            )
            engine = OpenAIEngine(settings, tuning=tuning)
            await engine.start()
            started = time.monotonic()
            events = await transcribe(engine, [utterances(440)])
        for writer in peers:
            writer.close()
        server.close()
        await server.wait_closed()
        assert time.monotonic() - started < 1.5
        [error] = errors(events)
        assert (error.code, error.fatal) == ("upstream_unavailable", True)
        assert "WebSocket handshake" in error.message
        assert len(peers) == 2


class TestTimeouts:
    async def test_missing_finals_end_with_final_timeout_and_partial_finals(self) -> None:
        """Finals that never come give ``final_timeout`` and one final per open segment."""
        tuning = replace(FAST, final_timeout_s=0.3)
        async with FakeRealtimeServer(Scenario(stall_transcription=True)) as fake:
            started = time.monotonic()
            events = await transcribe(await started_engine(fake, tuning), [utterances(440, 300)])
        assert time.monotonic() - started < 1.5
        [error] = errors(events)
        assert (error.code, error.fatal) == ("final_timeout", False)
        assert _final_tuples(events) == [(0, "", 0.0, 0.7), (1, "", 0.8, 1.6)]
        assert events.index(error) < events.index(finals(events)[0])


class TestDrops:
    @pytest.mark.parametrize("close_code", [None, 1011, 1001])
    async def test_a_dropped_connection_is_resumed_without_losing_a_final(
        self, close_code: int | None
    ) -> None:
        """After a drop the audio still owed is resent; ids and session times stay continuous."""
        scenario = Scenario(drop_after_appends=14, drop_close_code=close_code, extra_delay_s={0: 1})
        async with FakeRealtimeServer(scenario) as fake:
            events = await transcribe(await started_engine(fake), [utterances(440, 300, 550)])
        assert _final_tuples(events) == THREE_TURNS
        assert [e for e in events if isinstance(e, SpeechStarted)] == [
            SpeechStarted(0, 0.0),
            SpeechStarted(1, 0.8),
            SpeechStarted(2, 1.7),
        ]
        assert errors(events) == []
        _, second = fake.connections
        assert isinstance(second.received[0], SessionUpdateEvent)
        assert bytes(second.audio) == utterances(440, 300, 550)

    async def test_after_a_drop_only_the_uncommitted_tail_is_resent(self) -> None:
        """With every committed turn complete, a new connection gets audio from the last commit."""
        scenario = Scenario(drop_after_appends=17)
        async with FakeRealtimeServer(scenario) as fake:
            engine = await started_engine(fake)
            async with engine.open_session(SessionConfig("s", "sv")) as session:
                push(session, utterances(440))
                with anyio.fail_after(2):
                    async for event in session:
                        if isinstance(event, Final):
                            break
                push(session, utterances(300, 550))
                session.end_input()
                events = await collect(session)
        assert _final_tuples(events) == THREE_TURNS[1:]
        assert bytes(fake.connections[1].audio) == utterances(440, 300, 550)[2 * 16_800 :]

    async def test_a_policy_close_is_fatal(self) -> None:
        """A close code that is not retried (1008) ends the session with ``upstream_closed``."""
        scenario = Scenario(drop_after_appends=3, drop_close_code=1008)
        async with FakeRealtimeServer(scenario) as fake:
            events = await transcribe(await started_engine(fake), [utterances(440)])
        assert [(e.code, e.fatal) for e in errors(events)] == [("upstream_closed", True)]
        assert len(fake.connections) == 1

    async def test_a_connection_that_keeps_dropping_ends_the_session(self) -> None:
        """More quick drops in a row than ``max_attempts`` end with ``upstream_unavailable``."""
        scenario = Scenario(drop_after_appends=9, drops=100)
        async with FakeRealtimeServer(scenario) as fake:
            events = await transcribe(await started_engine(fake), [utterances(440, 300)])
        [error] = errors(events)
        assert events[-1] == error
        assert (error.code, error.fatal) == ("upstream_unavailable", True)
        assert len(fake.connections) == 1 + FAST.max_attempts
        started = {e.segment_id for e in events if isinstance(e, SpeechStarted)}
        assert {f.segment_id for f in finals(events)} == started


class TestRotation:
    async def test_the_connection_is_rotated_at_a_pause_without_losing_audio(self) -> None:
        """After ``rotate_after_s`` the next pause moves audio to a fresh connection seamlessly."""
        tuning = replace(FAST, rotate_after_s=0.3)
        async with FakeRealtimeServer(Scenario(session_expiry_s=5)) as fake:
            engine = await started_engine(fake, tuning)
            async with engine.open_session(SessionConfig("s", "sv")) as session:
                push(session, utterances(440))
                with anyio.fail_after(2):
                    async for event in session:
                        if isinstance(event, Final):
                            break
                await until(lambda: len(fake.connections) == 2)  # rotated at this pause
                push(session, utterances(300))
                session.end_input()
                events = await collect(session)
        first, second = fake.connections
        assert isinstance(first.received[-1], InputAudioBufferClearEvent)
        assert first.close_code == 1000
        assert isinstance(second.received[0], SessionUpdateEvent)
        assert bytes(second.audio) == utterances(440, 300)[2 * 16_800 :]
        assert _final_tuples(events) == [(1, "tone 300 hz", 0.8, 1.6)]
        assert errors(events) == []

    async def test_rotation_waits_for_the_utterance_in_progress_to_end(self) -> None:
        """A due rotation is deferred while upstream is inside an utterance, then happens."""
        tuning = replace(FAST, rotate_after_s=0.2, rotate_grace_s=30.0)
        async with FakeRealtimeServer() as fake:
            engine = await started_engine(fake, tuning)
            async with engine.open_session(SessionConfig("s", "sv")) as session:
                push(session, tone(440, 0.4))
                with anyio.fail_after(2):
                    async for event in session:
                        if isinstance(event, SpeechStarted):
                            break
                # the rotation falls due while upstream is inside the utterance: a deadline of
                # the engine's own (its connection's age), not a guess how long work takes
                await anyio.sleep(tuning.rotate_after_s)
                connections_mid_speech = len(fake.connections)
                push(session, silence(0.5))
                with anyio.fail_after(2):
                    async for event in session:
                        if isinstance(event, Final):
                            break
                await until(lambda: len(fake.connections) == 2)  # rotated at the pause
                push(session, utterances(300))
                session.end_input()
                events = await collect(session)
        assert connections_mid_speech == 1
        first, _ = fake.connections
        assert isinstance(first.received[-1], InputAudioBufferClearEvent)
        assert _final_tuples(events) == [(1, "tone 300 hz", 0.8, 1.6)]

    async def test_rotation_mid_utterance_commits_the_old_connection(self) -> None:
        """When the grace period is over, speech in progress is committed on the old connection."""
        tuning = replace(FAST, rotate_after_s=0.2, rotate_grace_s=0.0)
        async with FakeRealtimeServer() as fake:
            engine = await started_engine(fake, tuning)
            async with engine.open_session(SessionConfig("s", "sv")) as session:
                push(session, tone(440, 0.4))
                with anyio.fail_after(2):
                    async for event in session:
                        if isinstance(event, SpeechStarted):
                            break
                await until(lambda: len(fake.connections) == 2)  # rotated mid-utterance
                push(session, silence(0.5) + utterances(300))
                session.end_input()
                events = [SpeechStarted(0, 0.0), *await collect(session)]
        first, second = fake.connections
        assert first.received_types()[-1] == "input_audio_buffer.commit"
        assert len(second.audio) == len(silence(0.5) + utterances(300))
        assert _final_tuples(events) == [(0, "tone 440 hz", 0.0, 0.4), (1, "tone 300 hz", 0.8, 1.6)]
        assert errors(events) == []

    async def test_an_expired_session_is_replaced_transparently(self) -> None:
        """Upstream's ``session_expired`` plus close leads to a reconnect, not an error."""
        async with FakeRealtimeServer(Scenario(session_expiry_s=0.3)) as fake:
            engine = await started_engine(fake)
            async with engine.open_session(SessionConfig("s", "sv")) as session:
                push(session, utterances(440))
                await until(lambda: len(fake.connections) == 2)  # expired and replaced
                push(session, utterances(300))
                session.end_input()
                events = await collect(session)
        assert len(fake.connections) >= 2
        assert [f.text for f in finals(events)] == ["tone 440 hz", "tone 300 hz"]
        assert _final_tuples(events)[1] == (1, "tone 300 hz", 0.8, 1.6)
        assert errors(events) == []
