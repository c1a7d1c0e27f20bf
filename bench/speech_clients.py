"""Clients for ``bench.openai_streaming``: a conversation of real speech, one real-time stream.

Each stream plays the project's espeak sentences (``tests/fixtures``, 16 kHz) one after another,
each followed by a pause, with a -60 dBFS noise floor over everything (as a microphone has), in
100-ms chunks paced at real time. Stream ``i`` starts with sentence ``i mod 4``.

A stream records when it sent each sentence's first and last voiced chunk (frames above
-40 dBFS), and when each message arrived. Afterwards, finals and partials are matched to the
sentences by their ``ts`` (seconds of the stream's own audio): a sentence without any final
overlapping it is *lost*; a final overlapping no sentence is *extra*.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import wave
from dataclasses import dataclass, field

import numpy as np
import soxr
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, WebSocketException

from bench.proxy_clients import (
    COMPLETED,
    END,
    NOISE_RMS,
    REPO,
    System,
    clock_ns,
    close_stream,
    connection_failure,
)

CHUNK_S = 0.1
SENTENCES = ("en_weather", "sv_city", "en_fox", "sv_weather")
VOICED_RMS = 0.01
"""A 10-ms frame at or above this RMS (-40 dBFS) is voiced, for onset and end times."""


@dataclass(frozen=True)
class Sentence:
    """One sentence of a stream: where its audio and its voice lie, in stream seconds."""

    start_s: float
    end_s: float
    onset_s: float
    offset_s: float


def _clip(name: str) -> np.ndarray:
    with wave.open(str(REPO / "tests" / "fixtures" / f"{name}.wav")) as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")


def _voiced_span(clip: np.ndarray) -> tuple[float, float]:
    frames = clip[: clip.size - clip.size % 160].reshape(-1, 160).astype(np.float64) / 32768
    voiced = np.flatnonzero(np.sqrt((frames * frames).mean(axis=1)) >= VOICED_RMS)
    return voiced[0] * 0.01, (voiced[-1] + 1) * 0.01


class SpeechScript:
    """Every stream's audio: ``sentences`` per stream with ``pause_s`` after each."""

    def __init__(self, rate: int, sentences: int, pause_s: float) -> None:
        self.rate = rate
        self.sentences = sentences
        self.pause_s = pause_s
        self._clips = {name: _clip(name) for name in SENTENCES}
        self._voiced = {name: _voiced_span(clip) for name, clip in self._clips.items()}
        self._rng = np.random.default_rng(16)

    def plan(self, stream: int) -> tuple[bytes, list[Sentence]]:
        """Stream ``stream``'s whole audio at :attr:`rate` and its sentences."""
        parts: list[np.ndarray] = []
        spans: list[Sentence] = []
        at = 0.0
        gap = np.zeros(int(self.pause_s * 16_000), dtype=np.float64)
        for k in range(self.sentences):
            name = SENTENCES[(stream + k) % len(SENTENCES)]
            clip = self._clips[name]
            length = clip.size / 16_000
            onset, offset = self._voiced[name]
            spans.append(Sentence(at, at + length, at + onset, at + offset))
            parts += [clip.astype(np.float64), gap]
            at += length + self.pause_s
        audio = np.concatenate(parts)
        audio += self._rng.normal(0.0, NOISE_RMS * 32768, audio.size)
        pcm = np.clip(audio, -32768, 32767).astype("<i2")
        if self.rate != 16_000:
            pcm = soxr.resample(pcm, 16_000, self.rate, quality="HQ").astype("<i2")
        return pcm.tobytes(), spans


@dataclass
class SpeechResult:
    """What one stream saw; times are ``time.monotonic()`` seconds."""

    sentences: list[Sentence]
    sent_at: list[float] = field(default_factory=list)
    finals: list[tuple[float, float, float]] = field(default_factory=list)
    """(arrival, ts.start_s, ts.end_s) per final."""
    first_partial: dict[int, float] = field(default_factory=dict)
    final_segment: dict[int, tuple[float, float]] = field(default_factory=dict)
    added_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    completions: int = 0
    """Upstream ``completed`` events (the relay's clients get those instead of finals)."""
    failure: str = ""

    def matched(self) -> tuple[int, int]:
        """(sentences without a final, finals overlapping no sentence); for a relay's client,
        which gets no times, (sentences beyond the completions, 0)."""
        if self.completions:
            return max(0, len(self.sentences) - self.completions), 0

        def overlaps(start: float, end: float, s: Sentence) -> bool:
            return start < s.end_s + 0.3 and end > s.start_s - 0.3

        lost = sum(not any(overlaps(a, b, s) for _, a, b in self.finals) for s in self.sentences)
        extra = sum(not any(overlaps(a, b, s) for s in self.sentences) for _, a, b in self.finals)
        return lost, extra

    def delays(self) -> tuple[list[float], list[float]]:
        """(onset to first partial, voice end to final) per sentence, in seconds of wall time."""
        to_partial: list[float] = []
        to_final: list[float] = []
        for s in self.sentences:
            onset_wall = self._wall(s.onset_s)
            end_wall = self._wall(s.offset_s)
            ids = [i for i, (a, b) in self.final_segment.items() if a < s.end_s and b > s.start_s]
            partials = [self.first_partial[i] for i in ids if i in self.first_partial]
            if partials and onset_wall is not None:
                to_partial.append(min(partials) - onset_wall)
            arrivals = [t for t, a, b in self.finals if a < s.end_s and b > s.start_s]
            if arrivals and end_wall is not None:
                to_final.append(max(arrivals) - end_wall)
        return to_partial, to_final

    def _wall(self, stream_s: float) -> float | None:
        """When the chunk holding stream second ``stream_s`` was sent."""
        index = int(stream_s / CHUNK_S)
        return self.sent_at[index] if index < len(self.sent_at) else None


async def read_messages(ws: ClientConnection, result: SpeechResult, all_in: asyncio.Event) -> None:
    """Record partials, finals (with the fake's stamp: added latency) and errors."""
    with contextlib.suppress(ConnectionClosed):
        async for raw in ws:
            arrived = time.monotonic()
            stamp_now = clock_ns()
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "partial":
                result.first_partial.setdefault(int(message["segment_id"]), arrived)
            elif kind == "final":
                ts = message["ts"]
                result.finals.append((arrived, float(ts["start_s"]), float(ts["end_s"])))
                result.final_segment[int(message["segment_id"])] = (ts["start_s"], ts["end_s"])
                _stamp(str(message.get("text", "")), stamp_now, result)
            elif kind == COMPLETED:  # the bare relay passes upstream's events on
                result.completions += 1
                if result.completions >= len(result.sentences):
                    all_in.set()
                _stamp(str(message.get("transcript", "")), stamp_now, result)
            elif kind == "error":
                result.errors.append(str(message.get("code")))


def _stamp(text: str, now_ns: int, result: SpeechResult) -> None:
    """The fake ends each transcript with ``@<ns>``, its emit time on the shared clock."""
    _, at, stamp = text.rpartition("@")
    if at and stamp.isdigit():
        result.added_ms.append((now_ns - int(stamp)) / 1e6)


async def run_speech_stream(
    ws: ClientConnection, system: System, audio: bytes, result: SpeechResult, start: float
) -> SpeechResult:
    """Stream ``audio`` in real time from ``start``, send ``end``, and read until the close."""
    all_in = asyncio.Event()
    reader = asyncio.create_task(read_messages(ws, result, all_in))
    size = 2 * round(system.rate * CHUNK_S)
    try:
        async with asyncio.timeout(len(audio) / 2 / system.rate + 30):
            for number, offset in enumerate(range(0, len(audio), size)):
                delay = start + number * CHUNK_S - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                result.sent_at.append(time.monotonic())
                await ws.send(audio[offset : offset + size])
            await ws.send(END)
            if system.service:  # the service closes with 1000 after the last final
                await reader
            else:  # the bare relay knows no end: wait for a completion per sentence
                await all_in.wait()
    except TimeoutError:
        result.failure = "timed out"
    except (WebSocketException, OSError) as exc:
        result.failure = connection_failure(exc)
    finally:
        await close_stream(reader, ws)
    return result
