"""What a ``/ws`` connection hands off instead of doing itself: the engine's input (resampling),
a session's debug entries, its metrics and the latency of its finals."""

from __future__ import annotations

import types

import numpy as np
import pytest

from realtime_stt import metrics as metrics_module
from realtime_stt import wire
from realtime_stt.audio import Int16Array, StreamResampler
from realtime_stt.debug_log import DebugLog, SessionDebug
from realtime_stt.engine import protocol as ev
from realtime_stt.engine_input import OFF_LOOP_SAMPLES, EngineInput
from realtime_stt.metrics import Metrics, SessionMetrics


class _Stream:
    """Records what an engine session is given."""

    def __init__(self) -> None:
        self.pushed: list[bytes] = []
        self.calls: list[str] = []

    def push_audio(self, pcm: bytes) -> None:
        self.pushed.append(pcm)

    async def wait_for_room(self) -> None:
        return None

    @property
    def has_room(self) -> bool:
        return True

    def flush(self) -> None:
        self.calls.append("flush")

    def end_input(self) -> None:
        self.calls.append("end")

    def __aiter__(self) -> _Stream:
        return self

    async def __anext__(self) -> ev.EngineEvent:
        raise StopAsyncIteration


def _tone(samples: int) -> Int16Array:
    return (np.sin(np.arange(samples) / 7.0) * 8000).astype(np.int16)


class TestEngineInput:
    @pytest.mark.anyio
    async def test_audio_is_resampled_as_one_stream_and_recorded(self) -> None:
        """Chunks (a long one resampled off the loop) reach the engine as one continuous
        resampling would give them, the tail at the end, then ``end_input``; each pushed chunk
        is in ``engine-chunks`` at the engine's rate."""
        store = DebugLog(16)
        stream = _Stream()
        feed = EngineInput(stream, 16_000, 24_000, SessionDebug(store, "s"))
        chunks = [_tone(1_600), _tone(OFF_LOOP_SAMPLES + 4_000), _tone(320)]
        for chunk in chunks:
            await feed.push(chunk)
        feed.flush()
        feed.end()
        reference = StreamResampler(16_000, 24_000)
        expected = b"".join(reference.process(chunk).tobytes() for chunk in chunks)
        expected += reference.finish().tobytes()
        assert b"".join(stream.pushed) == expected
        assert stream.calls == ["flush", "end"]
        recorded = await store.read("engine-chunks")
        assert [entry["seq"] for entry in recorded] == list(range(len(stream.pushed)))
        assert {entry["sample_rate"] for entry in recorded} == {24_000}

    @pytest.mark.anyio
    async def test_same_rate_passes_audio_through(self) -> None:
        """At the engine's own rate the samples reach it unchanged."""
        stream = _Stream()
        feed = EngineInput(stream, 16_000, 16_000, SessionDebug(DebugLog(4), "s"))
        chunk = _tone(OFF_LOOP_SAMPLES + 1)
        await feed.push(chunk)
        feed.end()
        assert b"".join(stream.pushed) == chunk.tobytes()


class TestSessionDebug:
    @pytest.mark.anyio
    async def test_each_buffer_gets_what_it_holds(self) -> None:
        """Chunks are numbered per buffer; the engine's text events keep their text or code
        (a speech start, which has none, is left out); sent messages go as sent."""
        store = DebugLog(16)
        debug = SessionDebug(store, "s1")
        debug.client_chunk(_tone(160), 16_000)
        debug.client_chunk(_tone(160), 16_000)
        debug.engine_chunk(_tone(240), 24_000)
        debug.engine_event(ev.SpeechStarted(0, 0.0))
        debug.engine_event(ev.Partial(0, "hel", 0.0, 0.2))
        debug.engine_event(ev.EngineError("upstream_lost", "gone", segment_id=0))
        debug.sent(wire.Partial(segment_id=0, text="hel", ts=wire.Span(start_s=0.0, end_s=0.2)))
        assert [e["seq"] for e in await store.read("front-chunks")] == [0, 1]
        assert [e["seq"] for e in await store.read("engine-chunks")] == [0]
        text = [
            {k: v for k, v in entry.items() if k not in {"time", "instance"}}
            for entry in await store.read("engine-text")
        ]
        assert text == [
            {"session_id": "s1", "type": "partial", "segment_id": 0, "text": "hel"},
            {"session_id": "s1", "type": "error", "code": "upstream_lost", "message": "gone"},
        ]
        (sent,) = await store.read("front-text")
        assert (sent["type"], sent["text"], sent["ts"]) == (
            "partial",
            "hel",
            {"start_s": 0.0, "end_s": 0.2},
        )


class TestSessionMetrics:
    def test_a_final_is_timed_from_the_chunk_holding_its_last_sample(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The latency runs from the arrival of the chunk whose samples include the final's
        end to its sending; a final past every chunk kept is not timed; errors are counted."""
        clock = types.SimpleNamespace(now=10.0)
        monkeypatch.setattr(
            metrics_module, "time", types.SimpleNamespace(monotonic=lambda: clock.now)
        )
        metrics = Metrics("i")
        session = SessionMetrics(metrics, 16_000)
        session.audio_received(1_600, 1_600)  # samples 0..1600 arrive at 10.0
        clock.now = 11.0
        session.audio_received(1_600, 3_200)  # samples 1600..3200 arrive at 11.0
        clock.now = 11.5
        span = wire.Span(start_s=0.0, end_s=0.15)  # sample 2400: the second chunk
        session.sent(wire.Final(segment_id=0, text="hi", ts=span))
        late = wire.Span(start_s=0.0, end_s=0.5)  # sample 8000: never arrived
        session.sent(wire.Final(segment_id=1, text="", ts=late))
        session.sent(wire.Error(code="upstream_lost", message="gone"))
        session.error("client_too_slow")
        value = metrics.registry.get_sample_value
        labels = {"instance": "i"}
        assert value("stt_final_latency_seconds_count", labels) == 1
        assert value("stt_final_latency_seconds_sum", labels) == pytest.approx(0.5)
        assert value("stt_audio_received_seconds_total", labels) == pytest.approx(0.2)
        assert value("stt_messages_sent_total", {**labels, "type": "final"}) == 2
        for code in ("upstream_lost", "client_too_slow"):
            assert value("stt_errors_total", {**labels, "code": code}) == 1


@pytest.fixture
def anyio_backend() -> str:
    """Run the async tests here on asyncio."""
    return "asyncio"
