"""The strict OpenAI Realtime fake (``tests.openai_fake``) as a benchmark upstream process.

``python -m bench.fake_upstream --port P [--reuse-port] [--completion-delay S]`` serves the fake on
127.0.0.1:P until it is terminated, printing ``ready`` once it listens and, when it stops, one
line ``stats {"connections": .., "appended_s": .., "billed_s": .., "turns": ..}`` (JSON: the
connections served, the seconds of audio appended on them, the seconds billed by duration usage,
the turns committed). The protocol is the fake's own: every client frame validated against the
SDK's GA types, the same per-model ``session.update`` rules (a streaming model,
``gpt-live-transcribe`` or ``gpt-realtime-whisper``, is refused unless ``turn_detection`` is
``null``), the same events, the same VAD for turn-based models, and for streaming models:

* no speech events; while voiced audio is appended, append-only deltas for the item the next
  commit creates: the first once 0.5 s of voiced audio is buffered (the session's ``delay``:
  minimal 0.3, low 0.5 (the default), medium 0.8, high 1.2, xhigh 1.6 s), then one word per
  further 0.25 s of voiced audio, never the last word before the commit;
* a commit under 100 ms gets ``input_audio_buffer_commit_empty``; otherwise ``committed`` and
  ``conversation.item.added`` at once, and after the completion delay (``--completion-delay``,
  default 0.01 s, for every model) the remaining words and ``...completed`` with ``usage``
  ``{"type": "duration", "seconds": ceil(committed seconds)}``.

Three changes make it fit for long runs with hundreds of connections:

* **Emit stamps.** The ``...transcription.completed`` transcript ends with ``@<ns>``, the
  ``CLOCK_MONOTONIC`` time (system-wide on Linux, so comparable between processes) taken just
  before the event is serialised and written to the socket. A client that receives the final
  computes the *added latency* of whatever sits between it and the fake.
* **Bounded memory.** Committed audio is dropped (the fake keeps every byte and every event of a
  connection for tests to inspect), and nothing is recorded per event or per turn; the appended
  seconds are still counted per connection.
* **Cheaper "transcription".** The pitch is estimated from at most the first
  :data:`PITCH_WINDOW_S` of voiced audio, at the commit and for the streamed words alike (the
  fake's full-length FFT costs ~2 ms per 0.6 s utterance, which at 300 streams would take a third
  of a core from the machine under test); a streamed text is computed at most once per turn.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
from dataclasses import asdict, dataclass
from urllib.parse import parse_qs

import uvloop
from pydantic import BaseModel
from tests.openai_fake import FakeRealtimeServer, Scenario
from tests.openai_fake.audio import RATE, Samples, dominant_frequency, samples, voiced
from tests.openai_fake.connection import PER_MS, FakeConnection
from tests.openai_fake.scenario import ConnectionRecord, Turn
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

PITCH_WINDOW_S = 0.1
"""Voiced audio (seconds) the pitch is estimated from; enough for the 10 Hz rounding."""


def now_ns() -> int:
    """The clock shared by the fake, the relay, the service and the clients."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


class TrimmedAudio(bytearray):
    """A connection's audio that forgets committed bytes; ``len()`` still counts every byte."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped = 0

    def __len__(self) -> int:
        return super().__len__() + self.dropped

    def window(self, start: int, end: int) -> bytes:
        """Samples ``[start, end)`` (connection positions) as bytes."""
        low = max(0, 2 * start - self.dropped)
        high = max(low, 2 * end - self.dropped)
        return bytes(memoryview(self)[low:high])

    def drop_before(self, sample: int) -> None:
        """Forget the audio before connection sample ``sample``."""
        count = min(2 * sample - self.dropped, super().__len__())
        if count > 0:
            del self[:count]
            self.dropped += count


@dataclass
class Stats:
    """What the fake served, summed over closed connections (printed when it stops)."""

    connections: int = 0
    appended_s: float = 0.0
    billed_s: float = 0.0
    turns: int = 0


class BenchConnection(FakeConnection):
    """The fake's connection with the changes listed in the module docstring."""

    live_keep_s = PITCH_WINDOW_S

    def __init__(self, server: FakeRealtimeServer, ws: ServerConnection, rec: ConnectionRecord):
        super().__init__(server, ws, rec)
        self.turns = 0

    async def on_frame(self, frame: str | bytes) -> bool:
        keep = await super().on_frame(frame)
        self.rec.received.clear()
        self.rec.append_sizes.clear()
        self.rec.refused.clear()
        return keep

    def take_audio(self, end: int) -> Samples:
        store = self.rec.audio
        assert isinstance(store, TrimmedAudio)
        audio = samples(store.window(self.buffer_start, end))
        store.drop_before(end)
        self.buffer_start = end
        return audio

    def hear(self, audio: Samples) -> tuple[float | None, int]:
        speech = voiced(audio, self.scenario.vad_threshold)
        return dominant_frequency(speech[: int(PITCH_WINDOW_S * RATE)]), speech.size // PER_MS

    def keep_turn(self, turn: Turn) -> None:
        self.turns += 1

    def final_transcript(self, text: str) -> str:
        return f"{text} @{now_ns()}".strip()

    async def send(self, event: BaseModel) -> None:
        try:
            await self.ws.send(event.model_dump_json(exclude_unset=True))
        except ConnectionClosed:
            return


class BenchFakeServer(FakeRealtimeServer):
    """The fake on a fixed port (optionally shared with sibling processes), keeping no records
    but the :class:`Stats`."""

    def __init__(self, scenario: Scenario, port: int, *, reuse_port: bool = False) -> None:
        super().__init__(scenario)
        self._port = port
        self._reuse_port = reuse_port
        self.stats = Stats()

    async def __aenter__(self) -> BenchFakeServer:
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            self._port,
            process_request=self._process_request,
            reuse_port=self._reuse_port,
            backlog=4096,
            max_size=4 * 1024 * 1024,
        )
        return self

    async def _handle(self, ws: ServerConnection) -> None:
        self.handshakes.clear()
        request = ws.request
        path, _, query = (request.path if request else "").partition("?")
        headers = {k.lower(): v for k, v in request.headers.raw_items()} if request else {}
        index = self.stats.connections
        self.stats.connections += 1
        record = ConnectionRecord(index, path, parse_qs(query), headers, audio=TrimmedAudio())
        connection = BenchConnection(self, ws, record)
        try:
            await connection.run()
        finally:
            self.stats.appended_s += record.appended_s
            self.stats.billed_s += record.billed_s
            self.stats.turns += connection.turns


async def serve_forever(port: int, reuse_port: bool, completion_delay_s: float) -> None:
    """Serve until SIGTERM or SIGINT, then print the stats line."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    scenario = Scenario(completion_delay_s=completion_delay_s)
    async with BenchFakeServer(scenario, port, reuse_port=reuse_port) as fake:
        print("ready", flush=True)
        await stop.wait()
    stats = {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(fake.stats).items()}
    print("stats", json.dumps(stats), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--reuse-port", action="store_true")
    parser.add_argument("--completion-delay", type=float, default=0.01, help="seconds")
    args = parser.parse_args()
    uvloop.run(serve_forever(args.port, args.reuse_port, args.completion_delay))


if __name__ == "__main__":
    main()
