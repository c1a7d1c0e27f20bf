"""The whole service with ENGINE=openai: a real uvicorn server, a real client, the strict fake.

The client speaks 16 kHz, as the browser does; the fake accepts only 24 kHz and names each
utterance by the pitch it hears, so the right text proves the service resampled correctly (16 kHz
audio passed off as 24 kHz would sound 1.5 times too high).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from websockets.asyncio.client import connect

from realtime_stt.app import create_app
from realtime_stt.settings import Settings
from tests.conftest import free_port, speech
from tests.openai_fake import FakeRealtimeServer, Scenario
from tests.openai_fake.audio import silence, tone
from tests.openai_fake.harness import settings_for

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    """Run these tests on asyncio (websockets needs it)."""
    return "asyncio"


async def run_client(url: str, audio: bytes) -> tuple[list[dict[str, Any]], int | None]:
    messages: list[dict[str, Any]] = []
    async with connect(url) as ws:
        messages.append(json.loads(await ws.recv()))
        for start in range(0, len(audio), 3200):
            await ws.send(audio[start : start + 3200])
        await ws.send(json.dumps({"type": "end"}))
        messages.extend([json.loads(raw) async for raw in ws])
        code = ws.close_code
    return messages, code


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[int, httpx.AsyncClient]]:
    """The service on a free port (engine ready), and an HTTP client for it."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            with anyio.fail_after(30):  # the server listens, then the engine is ready
                while not server.started:  # noqa: ASYNC110 - uvicorn's flag signals nothing
                    await asyncio.sleep(0.01)
                while (await http.get("/healthz")).status_code != 200:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            yield port, http
    finally:
        server.should_exit = True
        await task


async def test_a_ws_session_is_transcribed_through_the_openai_engine() -> None:
    """16 kHz client audio reaches the fake at 24 kHz; finals come back in order, then 1000."""
    rate = 16_000
    audio = (
        silence(0.3, rate=rate)
        + tone(440, 0.6, rate=rate)
        + silence(0.8, rate=rate)
        + tone(660, 0.6, rate=rate)
        + silence(0.8, rate=rate)
    )
    fake = FakeRealtimeServer(Scenario())
    async with fake, serving(settings_for(fake)) as (port, http):
        messages, code = await run_client(f"ws://127.0.0.1:{port}/ws?language=sv", audio)
        health = (await http.get("/healthz")).json()
    assert messages[0]["type"] == "ready"
    assert messages[0]["engine"] == "openai"
    assert code == 1000
    finals = [m for m in messages if m["type"] == "final"]
    assert [f["text"] for f in finals] == ["tone 440 hz", "tone 660 hz"]
    assert [f["segment_id"] for f in finals] == [0, 1]
    duration = len(audio) / 2 / rate
    for final in finals:
        assert 0 <= final["ts"]["start_s"] <= final["ts"]["end_s"] <= duration
    assert finals[0]["ts"]["end_s"] <= finals[1]["ts"]["start_s"]
    assert health["engine"] == "openai"


async def test_the_default_streaming_model_serves_a_conversation_with_client_commits() -> None:
    """ENGINE=openai with its default model: our VAD commits each sentence, every final comes
    back in order, upstream got no pause audio, and /config and /metrics describe the model."""
    rate = 16_000
    pause = silence(2.0, rate=rate)
    sentences = ("en_weather", "sv_city")
    audio = pause + b"".join(speech(name) + pause for name in sentences)
    async with FakeRealtimeServer(Scenario()) as fake:
        settings = settings_for(fake, model="gpt-live-transcribe")
        async with serving(settings) as (port, http):
            messages, code = await run_client(f"ws://127.0.0.1:{port}/ws?language=sv", audio)
            config = (await http.get("/config")).json()
            metrics = (await http.get("/metrics")).text
    assert code == 1000
    assert [m["type"] for m in messages if m["type"] == "error"] == []
    finals = [m for m in messages if m["type"] == "final"]
    assert [f["text"] for f in finals] == [turn.text for turn in fake.turns]
    assert len(finals) >= len(sentences)
    [connection] = fake.connections
    update = json.loads(connection.received[0].model_dump_json())
    assert update["session"]["audio"]["input"]["turn_detection"] is None
    sent_s = len(connection.audio) / 2 / 24_000
    speech_s = sum(len(speech(name)) for name in sentences) / 2 / rate
    assert sent_s < speech_s + 1.0
    capabilities = config["model_capabilities"]
    assert capabilities["name"] == "gpt-live-transcribe"
    assert capabilities["streaming"] is True
    assert capabilities["turn_detection_in_use"] == "client"
    assert capabilities["usd_per_minute"] == 0.017
    assert config["openai_api_key"] == {"set": True}
    assert "stt_upstream_audio_sent_seconds_total{instance=" in metrics
    assert 'model="gpt-live-transcribe"' in metrics
    billed = [
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("stt_upstream_billed_audio_seconds_total")
    ]
    assert billed
    assert billed[0] >= sent_s
