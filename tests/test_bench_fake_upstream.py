"""The benchmark's lightweight fake upstream (``bench.fake_upstream``) serves streaming models as
the strict fake does, stamps its finals, and counts what it served."""

from __future__ import annotations

import re
from typing import Any

import pytest
from bench.fake_upstream import BenchFakeServer

from tests.openai_fake import Scenario
from tests.openai_fake.audio import silence, tone
from tests.openai_fake.wire import (
    client,
    commit,
    configure,
    drain,
    next_event,
    send,
    stream,
    until,
    update,
)

pytestmark = pytest.mark.anyio
LIVE = update("gpt-live-transcribe", language="sv", turn_detection=None)
DELTA = "conversation.item.input_audio_transcription.delta"
COMPLETED = "conversation.item.input_audio_transcription.completed"


@pytest.fixture
def anyio_backend() -> str:
    """Run these tests on asyncio (websockets needs it)."""
    return "asyncio"


def _deltas(events: list[dict[str, Any]]) -> list[str]:
    return [event["delta"] for event in events if event["type"] == DELTA]


async def test_a_streaming_model_needs_an_explicit_null_turn_detection() -> None:
    """The session's server-VAD default is refused for a streaming model, as upstream does."""
    async with BenchFakeServer(Scenario(), 0) as fake, client(fake) as ws:
        await next_event(ws, "session.created")
        await send(ws, update("gpt-realtime-whisper", event_id="u1"))
        error = await next_event(ws, "error")
    assert error["error"]["param"] == "session.audio.input.turn_detection"
    assert error["error"]["event_id"] == "u1"


async def test_streaming_turns_stream_hold_the_last_word_complete_and_are_counted() -> None:
    """A 0.6 s tone streams its first word before the commit; the commit brings the rest and a
    stamped ``completed`` billed by duration; a short commit is refused; the stats add up."""
    async with BenchFakeServer(Scenario(), 0) as fake, client(fake) as ws:
        await configure(ws, LIVE)
        await stream(ws, tone(440, 0.6))
        before = await drain(ws)
        await send(ws, commit())
        after = await until(ws, COMPLETED)
        await stream(ws, silence(0.05))
        await send(ws, commit("short"))
        refused = await next_event(ws, "error")
    stats = fake.stats  # complete once the server has stopped
    assert _deltas(before) == ["tone"]
    assert _deltas(after) == [" 440", " hz"]
    assert re.fullmatch(r"tone 440 hz @\d+", after[-1]["transcript"])
    assert after[-1]["usage"] == {"type": "duration", "seconds": 1}
    assert refused["error"]["code"] == "input_audio_buffer_commit_empty"
    assert (stats.connections, stats.turns, stats.billed_s) == (1, 1, 1)
    assert stats.appended_s == pytest.approx(0.65)
