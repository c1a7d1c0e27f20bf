"""Benchmark clients for ``bench.openai_proxy``: the tone script, one real-time stream, results."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tests.openai_fake import Scenario
from tests.openai_fake.audio import silence, tone
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

REPO = Path(__file__).resolve().parent.parent


CHUNK_S = 0.1


SPEECH_CHUNKS = 6


PAUSE_CHUNKS = 10


CYCLE_S = (SPEECH_CHUNKS + PAUSE_CHUNKS) * CHUNK_S


FREQS = (400, 500, 600, 700, 800, 900, 1000, 1100)


NOISE_RMS = 0.001


NOISE_CHUNKS = 64


KEY = Scenario().api_key


COMPLETED = "conversation.item.input_audio_transcription.completed"


STAMP = re.compile(r"^(?:tone (\d+) hz )?@(\d+)$")


END = json.dumps({"type": "end"})


FINAL_WAIT_S = 15.0


def clock_ns() -> int:
    """``CLOCK_MONOTONIC`` in ns: the fake's emit stamps use the same system-wide clock."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


class Script:
    """Every stream's audio at one sample rate, cut into 100 ms chunks.

    A low noise floor (-60 dBFS RMS, far below the fake's VAD threshold) is added everywhere, as
    a microphone has one: pure digital tones and silence would repeat exactly and let the
    WebSocket's permessage-deflate compress them for almost nothing, which real audio never does.
    """

    def __init__(self, rate: int) -> None:
        size = round(rate * CHUNK_S)
        rng = np.random.default_rng(rate)

        def noisy(pcm: bytes) -> bytes:
            audio = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
            audio += rng.normal(0.0, NOISE_RMS * 32768, audio.size)
            return np.clip(audio, -32768, 32767).astype("<i2").tobytes()

        self.tones: dict[int, list[bytes]] = {}
        for freq in FREQS:
            pcm = noisy(tone(freq, SPEECH_CHUNKS * CHUNK_S, rate=rate))
            self.tones[freq] = [pcm[i : i + 2 * size] for i in range(0, len(pcm), 2 * size)]
        self.pauses = [noisy(silence(CHUNK_S, rate=rate)) for _ in range(NOISE_CHUNKS)]

    @staticmethod
    def pitches(stream: int, cycles: int) -> list[int]:
        """The pitch of each utterance of stream ``stream``."""
        return [FREQS[(stream + k) % len(FREQS)] for k in range(cycles)]

    def chunks(self, stream: int, cycles: int) -> Iterator[bytes]:
        """The stream's chunks: per cycle a tone, then a pause the VAD ends the utterance in."""
        pause = 13 * stream
        for freq in self.pitches(stream, cycles):
            yield from self.tones[freq]
            for _ in range(PAUSE_CHUNKS):
                yield self.pauses[pause % NOISE_CHUNKS]
                pause += 1


@dataclass
class StreamResult:
    """What one client stream saw."""

    expected: list[int]
    heard: list[int | None] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    arrived_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    send_lag_ms: float = 0.0
    failure: str = ""

    def lost_and_extra(self) -> tuple[int, int]:
        """Utterances without their final, and finals matching no utterance (order kept)."""
        matched, position = 0, 0
        for freq in self.heard:
            while position < len(self.expected) and self.expected[position] != freq:
                position += 1
            if position < len(self.expected):
                matched += 1
                position += 1
        return len(self.expected) - matched, len(self.heard) - matched


@dataclass(frozen=True)
class System:
    """A server under test: how to reach it and what it expects."""

    name: str
    url: str
    rate: int
    service: bool


async def open_stream(system: System, gate: asyncio.Semaphore) -> ClientConnection:
    """Connect and wait for ``ready`` (the relay sends it once upstream is configured)."""
    async with gate, asyncio.timeout(60):
        ws = await connect(
            system.url, open_timeout=None, ping_interval=None, max_size=1 << 20, compression=None
        )
        ready = json.loads(await ws.recv())
        if ready.get("type") != "ready":
            msg = f"expected ready, got {ready}"
            raise RuntimeError(msg)
        return ws


async def read_finals(ws: ClientConnection, result: StreamResult, all_in: asyncio.Event) -> None:
    """Record each final's arrival against the fake's stamp in its text."""
    with contextlib.suppress(ConnectionClosed):
        async for raw in ws:
            arrived = clock_ns()
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "final":
                text = str(message.get("text", ""))
            elif kind == COMPLETED:
                text = str(message.get("transcript", ""))
            else:
                if kind == "error":
                    result.errors.append(str(message.get("code")))
                continue
            match = STAMP.match(text)
            if match is None:
                result.heard.append(None)
            else:
                result.latency_ms.append((arrived - int(match[2])) / 1e6)
                result.arrived_s.append(arrived / 1e9)
                result.heard.append(int(match[1]) if match[1] else None)
            if len(result.heard) >= len(result.expected):
                all_in.set()


async def close_stream(reader: asyncio.Task[None], ws: ClientConnection) -> None:
    """Stop a stream's reader and close its socket (bounded)."""
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader
    with contextlib.suppress(WebSocketException, OSError, TimeoutError):
        async with asyncio.timeout(5):
            await ws.close()


def connection_failure(exc: WebSocketException | OSError) -> str:
    """Why a stream's connection failed, in words."""
    if isinstance(exc, ConnectionClosed):
        code = exc.rcvd.code if exc.rcvd is not None else "no close frame"
        return f"closed by the server while streaming ({code})"
    return type(exc).__name__


async def run_stream(
    ws: ClientConnection, system: System, script: Script, *, index: int, cycles: int, start: float
) -> StreamResult:
    """Stream ``cycles`` utterances from ``start`` (monotonic), then collect the last finals."""
    result = StreamResult(Script.pitches(index, cycles))
    all_in = asyncio.Event()
    reader = asyncio.create_task(read_finals(ws, result, all_in))
    sent = False
    limit = start + cycles * CYCLE_S + 30 - time.monotonic()  # a server that stops reading
    try:
        async with asyncio.timeout(limit):
            for number, chunk in enumerate(script.chunks(index, cycles)):
                delay = start + number * CHUNK_S - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                else:
                    result.send_lag_ms = max(result.send_lag_ms, -delay * 1000)
                await ws.send(chunk)
            if system.service:
                await ws.send(END)
        sent = True
        async with asyncio.timeout(FINAL_WAIT_S):
            await (reader if system.service else all_in.wait())
    except TimeoutError:
        result.failure = (
            f"still missing finals {FINAL_WAIT_S:g} s after its audio"
            if sent
            else "could not send its audio in time"
        )
    except (WebSocketException, OSError) as exc:
        result.failure = connection_failure(exc)
    finally:
        await close_stream(reader, ws)
    return result


async def loop_lag(samples: list[float], until: float) -> None:
    """Lateness (ms) of a 10 ms timer in this process, until ``until``."""
    while time.monotonic() < until:
        before = time.monotonic()
        await asyncio.sleep(0.01)
        samples.append((time.monotonic() - before - 0.01) * 1000)
