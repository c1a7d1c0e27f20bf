"""The whole service with ENGINE=openai: a real uvicorn server, a real client, the strict fake.

The client speaks 16 kHz, as the browser does; the fake accepts only 24 kHz and names each
utterance by the pitch it hears, so the right text proves the service resampled correctly (16 kHz
audio passed off as 24 kHz would sound 1.5 times too high).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import connect

from realtime_stt.app import create_app
from tests.conftest import free_port
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
    async with FakeRealtimeServer(Scenario()) as fake:
        port = free_port()
        app = create_app(settings_for(fake))
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        serving = asyncio.create_task(server.serve())
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                for _ in range(200):
                    await asyncio.sleep(0.02)
                    if server.started and (await http.get("/healthz")).status_code == 200:
                        break
                messages, code = await run_client(f"ws://127.0.0.1:{port}/ws?language=sv", audio)
                health = (await http.get("/healthz")).json()
        finally:
            server.should_exit = True
            await serving
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
