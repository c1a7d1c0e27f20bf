"""Helpers for driving an :class:`OpenAIEngine` session against the fake server in tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import anyio
from pydantic import SecretStr

from realtime_stt.engine.protocol import (
    EngineError,
    EngineEvent,
    EngineSession,
    Final,
    SessionConfig,
)
from realtime_stt.openai_engine import OpenAIEngine, Tuning
from realtime_stt.settings import Settings

from .audio import silence, tone
from .server import FakeRealtimeServer

FAST = Tuning(
    connect_timeout_s=1.0,
    backoff_initial_s=0.01,
    backoff_max_s=0.05,
    max_attempts=3,
    final_timeout_s=2.0,
    close_timeout_s=0.5,
)
"""Production logic with test-sized waits."""

Step = bytes | Literal["flush"]


SERVER_VAD_MODEL = "gpt-transcribe"
"""The turn-based model the server-VAD tests use (upstream's VAD ends turns)."""


def settings_for(
    fake: FakeRealtimeServer,
    *,
    key: str | None = None,
    model: str = SERVER_VAD_MODEL,
    **overrides: object,
) -> Settings:
    """Settings pointing the OpenAI engine at ``fake`` with short VAD times (100/300 ms)."""
    fields: dict[str, object] = {
        "engine": "openai",
        "language": "sv",
        "openai_api_key": SecretStr(key or fake.scenario.api_key),
        "openai_base_url": fake.base_url,
        "openai_realtime_model": model,
        "openai_prefix_padding_ms": 100,
        "openai_silence_duration_ms": 300,
    }
    return Settings(_env_file=None, **{**fields, **overrides})  # type: ignore[arg-type]


async def started_engine(
    fake: FakeRealtimeServer,
    tuning: Tuning = FAST,
    *,
    key: str | None = None,
    model: str = SERVER_VAD_MODEL,
    **overrides: object,
) -> OpenAIEngine:
    """A started engine for ``fake`` (``model`` and setting ``overrides`` as given)."""
    engine = OpenAIEngine(settings_for(fake, key=key, model=model, **overrides), tuning=tuning)
    await engine.start()
    return engine


def utterances(*freqs: float, speech_s: float = 0.4, pause_s: float = 0.5) -> bytes:
    """Tone utterances separated by (and ending with) pauses long enough for the VAD to commit."""
    return b"".join(tone(freq, speech_s) + silence(pause_s) for freq in freqs)


def push(session: EngineSession, audio: bytes, chunk_s: float = 0.02) -> None:
    """Push ``audio`` in ``chunk_s`` pieces, as the service does with client frames."""
    size = 2 * round(24_000 * chunk_s)
    for start in range(0, len(audio), size):
        session.push_audio(audio[start : start + size])


async def collect(session: EngineSession, timeout_s: float = 5.0) -> list[EngineEvent]:
    """Every event until the session's stream ends (fails the test after ``timeout_s``)."""
    events: list[EngineEvent] = []
    with anyio.fail_after(timeout_s):
        async for event in session:
            events.append(event)
    return events


async def transcribe(
    engine: OpenAIEngine, steps: Sequence[Step], timeout_s: float = 5.0
) -> list[EngineEvent]:
    """Push ``steps`` (audio or ``"flush"``), end the input, and return every event."""
    async with engine.open_session(SessionConfig("test", "sv")) as session:
        for step in steps:
            if step == "flush":
                session.flush()
            else:
                push(session, step)
        session.end_input()
        return await collect(session, timeout_s)


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Return once ``condition`` holds, polling what the fake records (it signals nothing);
    fails the test after ``timeout_s``."""
    with anyio.fail_after(timeout_s):
        while not condition():  # noqa: ASYNC110 - polling the fake's plain lists
            await anyio.sleep(0.005)


def finals(events: Sequence[EngineEvent]) -> list[Final]:
    """The finals, in emission order."""
    return [event for event in events if isinstance(event, Final)]


def errors(events: Sequence[EngineEvent]) -> list[EngineError]:
    """The errors, in emission order."""
    return [event for event in events if isinstance(event, EngineError)]
