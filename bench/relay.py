"""A bare WebSocket relay to the Realtime API: the baseline for the service's proxy overhead.

``python -m bench.relay --port P --upstream URL --key K`` listens on 127.0.0.1:P and prints
``ready``. Each client WebSocket gets its own upstream connection: the relay waits for
``session.created``, sends the GA ``session.update`` the service sends with its default settings
(server VAD 0.5 / 300 ms / 500 ms, ``gpt-transcribe``, ``sv``, near-field noise
reduction), waits for ``session.updated`` and tells the client ``{"type":"ready"}``. Then every
binary client frame (PCM16 already at 24 kHz) becomes one ``input_audio_buffer.append``, and the
upstream transcription events a client needs (``...transcription.delta`` and ``...completed``)
are passed back verbatim; everything else is read and dropped. No batching, no session logic, no
recovery.

With ``--resample`` client frames are PCM16 at 16 kHz, as the service's clients send, and each is
resampled to 24 kHz before its append by the service's own
:class:`~realtime_stt.audio.StreamResampler` (soxr, one stream per connection): the least a
working relay for those clients must do, since the Realtime API takes PCM only at 24 kHz.

It runs on uvloop, as uvicorn runs the service. The upstream connection offers no compression
unless ``--deflate`` is given: then it offers permessage-deflate, as ``websockets`` does by
default (and so the service, at the time of writing), which costs about 0.5 ms of CPU per 100 ms
append of noisy audio on the benchmark machine.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import signal
from typing import Literal

import numpy as np
import uvloop
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from realtime_stt.audio import StreamResampler
from realtime_stt.openai_engine.config import resolve_config
from realtime_stt.openai_engine.events import session_update
from realtime_stt.settings import Settings

SERVER_VAD_MODEL = "gpt-transcribe"
"""A relay cannot commit turns itself, so it is compared with the service in server-VAD mode."""
SESSION_UPDATE = session_update(
    resolve_config(Settings.model_construct(openai_realtime_model=SERVER_VAD_MODEL))[0], "sv"
)
"""The frame the service sends with its default server-VAD settings (not the environment's),
built by the service's own code once, so both systems configure upstream identically."""

FORWARD = frozenset(
    {
        "conversation.item.input_audio_transcription.delta",
        "conversation.item.input_audio_transcription.completed",
    }
)
APPEND_HEAD = '{"type":"input_audio_buffer.append","audio":"'
APPEND_TAIL = '"}'
READY = '{"type":"ready"}'


async def _expect(up: ClientConnection, kind: str) -> None:
    while json.loads(await up.recv()).get("type") != kind:
        pass


async def _uplink(
    client: ServerConnection, up: ClientConnection, resampler: StreamResampler | None
) -> None:
    with contextlib.suppress(ConnectionClosed):
        async for frame in client:
            if isinstance(frame, bytes):
                pcm = frame
                if resampler is not None:
                    pcm = resampler.process(np.frombuffer(frame, dtype="<i2")).tobytes()
                await up.send(APPEND_HEAD + base64.b64encode(pcm).decode("ascii") + APPEND_TAIL)
    await up.close()


async def _downlink(up: ClientConnection, client: ServerConnection) -> None:
    with contextlib.suppress(ConnectionClosed):
        async for frame in up:
            if json.loads(frame).get("type") in FORWARD:
                await client.send(frame)
    await client.close()


class Relay:
    """One upstream connection per client connection, nothing else."""

    def __init__(self, upstream: str, key: str, *, deflate: bool, resample: bool) -> None:
        self.upstream = upstream
        self.headers = {"Authorization": f"Bearer {key}"}
        self.compression: Literal["deflate"] | None = "deflate" if deflate else None
        self.resample = resample

    async def handle(self, client: ServerConnection) -> None:
        """Serve one client until either side closes."""
        with contextlib.suppress(ConnectionClosed, OSError, TimeoutError):
            async with connect(
                self.upstream,
                additional_headers=self.headers,
                compression=self.compression,
                max_size=4 * 1024 * 1024,
            ) as up:
                async with asyncio.timeout(10):
                    await _expect(up, "session.created")
                    await up.send(SESSION_UPDATE)
                    await _expect(up, "session.updated")
                await client.send(READY)
                resampler = StreamResampler(16_000, 24_000) if self.resample else None
                await asyncio.gather(_uplink(client, up, resampler), _downlink(up, client))


async def serve_forever(port: int, relay: Relay) -> None:
    """Relay until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with serve(relay.handle, "127.0.0.1", port, backlog=4096):
        print("ready", flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="ws://.../v1/realtime?intent=...")
    parser.add_argument("--key", required=True)
    parser.add_argument("--deflate", action="store_true", help="offer permessage-deflate upstream")
    parser.add_argument("--resample", action="store_true", help="clients send 16 kHz")
    args = parser.parse_args()
    relay = Relay(args.upstream, args.key, deflate=args.deflate, resample=args.resample)
    uvloop.run(serve_forever(args.port, relay))


if __name__ == "__main__":
    main()
