"""Raw ``websockets`` client helpers for testing the fake itself (no engine in between).

Events are plain JSON dicts, as they travel. :func:`drain` is the way to see everything the fake
sent up to a point: the fake handles a connection's frames in order, so the ``session.updated``
answering an empty ``session.update`` comes after every event caused by earlier frames.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from websockets.asyncio.client import ClientConnection, connect

from .server import FakeRealtimeServer

KEY = {"Authorization": "Bearer sk-test-key"}
ABSENT: Any = object()
"""Leave a field out of :func:`update` (as opposed to sending ``null``)."""
SERVER_VAD = {"type": "server_vad", "prefix_padding_ms": 100, "silence_duration_ms": 300}
Event = dict[str, Any]


@asynccontextmanager
async def client(
    fake: FakeRealtimeServer, url: str | None = None, headers: dict[str, str] | None = None
) -> AsyncIterator[ClientConnection]:
    """A raw client connection to ``fake`` (the transcription URL and key by default)."""
    async with connect(url or fake.ws_url, additional_headers=headers or KEY) as ws:
        yield ws


async def next_event(ws: ClientConnection, kind: str, timeout_s: float = 2.0) -> Event:
    """The next server event of type ``kind`` (others are skipped)."""
    return (await until(ws, kind, timeout_s))[-1]


async def until(ws: ClientConnection, kind: str, timeout_s: float = 2.0) -> list[Event]:
    """Every server event up to and including the next one of type ``kind``."""
    seen: list[Event] = []
    with anyio.fail_after(timeout_s):
        while True:
            event: Event = json.loads(await ws.recv())
            seen.append(event)
            if event["type"] == kind:
                return seen


async def send(ws: ClientConnection, event: Event | str) -> None:
    """Send one client event (a dict as JSON, a string as is)."""
    await ws.send(event if isinstance(event, str) else json.dumps(event))


def append(pcm: bytes) -> Event:
    """``input_audio_buffer.append`` carrying ``pcm``."""
    return {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()}


async def stream(ws: ClientConnection, pcm: bytes, chunk_s: float = 0.1) -> None:
    """Append ``pcm`` in ``chunk_s`` pieces, as a live client does."""
    size = 2 * round(24_000 * chunk_s)
    for start in range(0, len(pcm), size):
        await send(ws, append(pcm[start : start + size]))


def commit(event_id: str | None = None) -> Event:
    """``input_audio_buffer.commit`` (with ``event_id`` if given)."""
    return {"type": "input_audio_buffer.commit", **({"event_id": event_id} if event_id else {})}


def update(
    model: str | None = None,
    *,
    turn_detection: Any = ABSENT,
    event_id: str | None = None,
    **transcription: Any,
) -> Event:
    """A transcription ``session.update``: 24 kHz PCM, ``model`` with ``transcription`` fields
    (no ``transcription`` at all without a model), and ``turn_detection`` only if given."""
    audio_input: Event = {"format": {"type": "audio/pcm", "rate": 24000}}
    if model is not None:
        audio_input["transcription"] = {"model": model, **transcription}
    if turn_detection is not ABSENT:
        audio_input["turn_detection"] = turn_detection
    event: Event = {
        "type": "session.update",
        "session": {"type": "transcription", "audio": {"input": audio_input}},
    }
    if event_id is not None:
        event["event_id"] = event_id
    return event


async def configure(ws: ClientConnection, event: Event) -> Event:
    """Wait for ``session.created``, send ``event``, return the ``session.updated`` answer."""
    await next_event(ws, "session.created")
    await send(ws, event)
    return await next_event(ws, "session.updated")


async def drain(ws: ClientConnection) -> list[Event]:
    """Every event the fake sent for the frames so far (see the module docstring)."""
    await send(ws, {"type": "session.update", "session": {"type": "transcription"}})
    return (await until(ws, "session.updated"))[:-1]


def of_type(events: list[Event], kind: str) -> list[Event]:
    """The events of one type, in order."""
    return [event for event in events if event["type"] == kind]
