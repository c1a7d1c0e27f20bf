"""The OpenAI engine's send fast path against the installed ``websockets``.

``Upstream.writable`` and ``Upstream.send_nowait`` (``openai_engine/connection.py``) skip
``ClientConnection.send`` and use what it is made of: ``protocol.state``, ``protocol.send_text``,
``send_data()`` and ``paused``. None of these is public API, so a ``websockets`` release may change
them. These tests fail, with a message saying what changed, when that happens: then either fix the
fast path or keep ``pyproject.toml``'s ``websockets`` range below the new release.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from importlib.metadata import version

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.connection import Connection
from websockets.asyncio.server import ServerConnection, serve
from websockets.protocol import Protocol, State

from realtime_stt.openai_engine.connection import Upstream

HINT = (
    f"websockets {version('websockets')} changed an internal that Upstream.writable/send_nowait "
    "(src/realtime_stt/openai_engine/connection.py) use: adapt them, or keep pyproject.toml's "
    "websockets range below this version. What changed: "
)
FRAME_CHARS = 64 * 1024
MAX_FRAMES = 1024
"""Frames sent before giving up on seeing the connection paused (64 MiB: loopback buffers hold
a few MiB)."""


def _calls(function: Callable[..., object], *needles: str) -> bool:
    source = inspect.getsource(function)
    return all(needle in source for needle in needles)


def test_the_internals_the_fast_path_uses_exist() -> None:
    """The connection classes still have what the fast path calls, with the same shapes, and a
    plain send still consists of ``send_text``, ``send_data()`` and ``drain()``."""
    problems: list[str] = []
    if not issubclass(ClientConnection, Connection):
        problems.append("ClientConnection no longer derives from asyncio.connection.Connection")
    params = list(inspect.signature(Protocol.send_text).parameters)
    if params[:3] != ["self", "data", "fin"]:
        problems.append(f"Protocol.send_text takes {params}, not (self, data, fin)")
    if list(inspect.signature(Connection.send_data).parameters) != ["self"]:
        problems.append("Connection.send_data() is gone or takes arguments")
    if not _calls(Connection.__init__, "self.paused", "self.protocol"):
        problems.append("Connection.__init__ sets no 'paused' or 'protocol' attribute")
    if not _calls(Connection.pause_writing, "self.paused = True"):
        problems.append("Connection.pause_writing no longer sets 'paused'")
    if not _calls(Connection.send_context, "self.send_data()", "await self.drain()"):
        problems.append("Connection.send_context no longer writes with send_data() and drain()")
    if not _calls(Connection.send, "self.protocol.send_text("):
        problems.append("Connection.send no longer sends text with protocol.send_text")
    if not hasattr(State, "OPEN"):
        problems.append("websockets.protocol.State has no OPEN")
    assert not problems, HINT + "; ".join(problems)


@pytest.mark.anyio
async def test_the_fast_path_sends_on_a_real_connection() -> None:
    """On a real connection: frames sent with ``send_nowait`` arrive whole and in order;
    ``writable`` turns false once the peer stops reading and the socket backs up, true again
    once it has read everything, and false after the close."""
    received: asyncio.Queue[str] = asyncio.Queue()
    reading = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        await reading.wait()
        async for message in ws:
            received.put_nowait(str(message))

    async with serve(handler, "127.0.0.1", 0, max_size=None, max_queue=1) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", max_size=None, compression=None) as ws:
            upstream = Upstream(ws, 0)
            assert isinstance(ws.paused, bool), HINT + "ClientConnection.paused is not a bool"
            assert upstream.writable, HINT + "an open, idle connection is not writable"
            sent: list[str] = []
            while upstream.writable:
                assert len(sent) < MAX_FRAMES, HINT + "the connection never reported 'paused'"
                frame = f"{len(sent):06d}" + "x" * FRAME_CHARS
                upstream.send_nowait(frame)
                sent.append(frame)
            reading.set()
            got = [await received.get() for _ in sent]
            assert [frame[:6] for frame in got] == [frame[:6] for frame in sent]
            assert got == sent, "a frame arrived altered"
            assert upstream.writable, HINT + "still 'paused' once the peer read everything"
            upstream.send_nowait("last")
            assert await received.get() == "last"
        assert not upstream.writable


@pytest.fixture
def anyio_backend() -> str:
    """Run the async tests here on asyncio."""
    return "asyncio"
