"""The OpenAI engine rides out an upstream outage for ``Tuning.retry_window_s``
(``OPENAI_RETRY_WINDOW_S``) instead of a few quick attempts, taking the client's audio meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

import anyio
import numpy as np
import pytest

from realtime_stt.audio import StreamResampler
from realtime_stt.engine.protocol import SessionConfig
from realtime_stt.openai_engine import OpenAIEngine
from tests.conftest import speech
from tests.openai_fake import FakeRealtimeServer, Scenario
from tests.openai_fake.audio import silence
from tests.openai_fake.harness import (
    FAST,
    SERVER_VAD_MODEL,
    collect,
    errors,
    finals,
    push,
    settings_for,
    started_engine,
    transcribe,
    utterances,
)

pytestmark = pytest.mark.anyio
MODELS = [SERVER_VAD_MODEL, "gpt-live-transcribe"]


@pytest.fixture
def anyio_backend() -> str:
    """Run these tests on asyncio (websockets needs it)."""
    return "asyncio"


async def until(condition: Callable[[], bool]) -> None:
    """Return once ``condition`` holds (the fake records handshakes; it signals nothing)."""
    while not condition():  # noqa: ASYNC110 - polling the fake's plain list
        await asyncio.sleep(0.005)


async def recover_after(fake: FakeRealtimeServer, refusals: int) -> None:
    """Let the fake refuse handshakes with HTTP 503 until it has refused ``refusals``."""
    fake.scenario.refuse_status = 503
    await until(lambda: len(fake.handshakes) >= refusals)
    fake.scenario.refuse_status = None


def spoken(name: str) -> bytes:
    """A speech fixture at the engine's 24 kHz (our VAD, for client commits, must hear speech)."""
    resampler = StreamResampler(16_000, 24_000)
    samples = np.frombuffer(speech(name), dtype="<i2")
    return (resampler.process(samples).tobytes() + resampler.finish().tobytes()) + silence(1.0)


async def test_an_outage_is_retried_for_the_whole_window() -> None:
    """With a window, attempts go on past max_attempts until it has passed; then the session
    ends with upstream_unavailable."""
    tuning = replace(FAST, max_attempts=2, retry_window_s=0.3)
    async with FakeRealtimeServer(Scenario(refuse_status=500)) as fake:
        events = await transcribe(await started_engine(fake, tuning), [utterances(440)])
    [error] = errors(events)
    assert (error.code, error.fatal) == ("upstream_unavailable", True)
    assert len(fake.handshakes) > tuning.max_attempts


@pytest.mark.parametrize("model", MODELS)
async def test_a_blip_inside_the_window_loses_nothing(model: str) -> None:
    """Upstream refusing more attempts than max_attempts, for less than the window, costs the
    session nothing: no error, and the utterance's final."""
    tuning = replace(FAST, max_attempts=2, retry_window_s=10.0)
    async with FakeRealtimeServer() as fake:
        engine = await started_engine(fake, tuning, model=model)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(recover_after, fake, 6)
            events = await transcribe(engine, [spoken("en_weather")], timeout_s=20)
    assert errors(events) == []
    assert [f.text for f in finals(events) if f.text] == [
        turn.text for turn in fake.turns if turn.text
    ]
    assert any(f.text for f in finals(events))


@pytest.mark.parametrize("model", MODELS)
async def test_the_client_is_not_held_while_the_outage_is_retried(model: str) -> None:
    """More than room_s of audio pushed while connecting still leaves room for the client."""
    tuning = replace(FAST, max_attempts=2, retry_window_s=10.0, room_s=1.0, max_backlog_s=30.0)
    async with FakeRealtimeServer(Scenario(refuse_status=503)) as fake:
        engine = OpenAIEngine(settings_for(fake, model=model), tuning=tuning)
        await engine.start()
        async with engine.open_session(SessionConfig("test", "sv")) as session:
            await until(lambda: bool(fake.handshakes))  # the first attempt is under way
            push(session, silence(3.0))
            with anyio.fail_after(5):  # a hold would last until upstream came back
                await session.wait_for_room()
            fake.scenario.refuse_status = None
            session.end_input()
            events = await collect(session, timeout_s=20)
        await engine.aclose()
    assert errors(events) == []
