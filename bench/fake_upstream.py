"""The strict OpenAI Realtime fake (``tests.openai_fake``) as a benchmark upstream process.

``python -m bench.fake_upstream --port P [--reuse-port]`` serves the fake on 127.0.0.1:P until it
is terminated, printing ``ready`` once it listens. The protocol is the fake's own (every client
frame validated against the SDK's GA types, same events, same VAD rules); three changes make it fit
for long runs with hundreds of connections:

* **Emit stamps.** The ``...transcription.completed`` transcript ends with ``@<ns>``, the
  ``CLOCK_MONOTONIC`` time (system-wide on Linux, so comparable between processes) taken just
  before the event is serialised and written to the socket. A client that receives the final
  computes the *added latency* of whatever sits between it and the fake.
* **Bounded memory.** Committed audio is dropped (the fake keeps every byte and every event of a
  connection for tests to inspect), and nothing is recorded per event or per turn.
* **Cheaper "transcription".** The pitch is estimated from at most the first
  :data:`PITCH_WINDOW_S` of voiced audio (the fake's full-length FFT costs ~2 ms per 0.6 s
  utterance, which at 300 streams would take a third of a core from the machine under test).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import time
from urllib.parse import parse_qs

import anyio
import uvloop
from pydantic import BaseModel
from tests.openai_fake import FakeRealtimeServer, Scenario
from tests.openai_fake import server_events as build
from tests.openai_fake.audio import RATE, Samples, dominant_frequency, samples, voiced
from tests.openai_fake.connection import FakeConnection
from tests.openai_fake.scenario import ConnectionRecord
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


def pitch(audio: Samples, threshold: float) -> float | None:
    """The dominant frequency of the first :data:`PITCH_WINDOW_S` of voiced frames."""
    return dominant_frequency(voiced(audio, threshold)[: int(PITCH_WINDOW_S * RATE)])


class BenchConnection(FakeConnection):
    """The fake's connection with the changes listed in the module docstring."""

    async def on_frame(self, frame: str | bytes) -> bool:
        keep = await super().on_frame(frame)
        self.rec.received.clear()
        self.rec.append_sizes.clear()
        self.rec.refused.clear()
        return keep

    async def commit(self, item: str, start: int | None, end: int) -> None:
        store = self.rec.audio
        assert isinstance(store, TrimmedAudio)
        audio = samples(store.window(self.buffer_start, end))
        store.drop_before(end)
        self.buffer_start = end
        previous, self.last_item = self.last_item, item
        await self.send(build.committed(item, previous, self.server.event_id()))
        await self.send(build.item_added(item, previous, self.server.event_id()))
        text = self.scenario.transcribe(pitch(audio, self.scenario.vad_threshold))
        self.server.next_turn()
        if self.input.transcription is not None and self.tasks is not None:
            self.tasks.start_soon(self._stamped, item, text, audio.size / RATE)

    async def _stamped(self, item: str, text: str, seconds: float) -> None:
        await anyio.sleep(self.scenario.completion_delay_s)
        for index, word in enumerate(text.split(" ") if text else []):
            piece = word if index == 0 else " " + word
            await self.send(build.delta(item, piece, self.server.event_id()))
        stamped = f"{text} @{now_ns()}".strip()
        done = build.completed(item, stamped, round(seconds + 0.5), self.server.event_id())
        await self.send(done)

    async def send(self, event: BaseModel) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(event.model_dump_json(exclude_unset=True))


class BenchFakeServer(FakeRealtimeServer):
    """The fake on a fixed port (optionally shared with sibling processes), keeping no records."""

    def __init__(self, scenario: Scenario, port: int, *, reuse_port: bool = False) -> None:
        super().__init__(scenario)
        self._port = port
        self._reuse_port = reuse_port
        self._count = 0

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
        record = ConnectionRecord(self._count, path, parse_qs(query), headers, audio=TrimmedAudio())
        self._count += 1
        await BenchConnection(self, ws, record).run()


async def serve_forever(port: int, reuse_port: bool) -> None:
    """Serve until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with BenchFakeServer(Scenario(), port, reuse_port=reuse_port):
        print("ready", flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--reuse-port", action="store_true")
    args = parser.parse_args()
    uvloop.run(serve_forever(args.port, args.reuse_port))


if __name__ == "__main__":
    main()
