"""One accepted ``/ws`` connection: the I/O of a :class:`SessionCore` on a real socket.

The connection only moves things: client frames to the core, the core's actions to the outbox
and the engine, engine events to the core, the outbox to the socket. What is done with them lives
elsewhere: the protocol's rules (the capacity policy too) in :mod:`~realtime_stt.session_core`,
resampling in :mod:`~realtime_stt.engine_input`, the debug buffers' entries in
:class:`~realtime_stt.debug_log.SessionDebug`, the counts and the final latency in
:class:`~realtime_stt.metrics.SessionMetrics`.

Four tasks run in one task group: :meth:`Connection.read` (socket to core),
:meth:`Connection.drain` (engine events to core), :meth:`Connection.write` (outbox to socket) and
:meth:`Connection.watch_idle` (``IDLE_TIMEOUT_S``). When one finishes, the others are cancelled.
A send that cannot complete within :data:`SEND_TIMEOUT_S` (a client that stopped reading, so the
socket's buffers are full) ends the connection: the server drops it rather than holding its
memory.

While the engine has no room for more audio the reader does not read, so TCP slows the client
down. An engine that makes no room for :data:`STALL_TIMEOUT_S` is failed in words
(``engine_stalled``, close 1011) before the WebSocket's keepalive gives up on a client whose pongs
are not being read (uvicorn's ping timeout is 20 s).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import anyio
from starlette.websockets import WebSocket, WebSocketDisconnect

from realtime_stt import wire
from realtime_stt.debug_log import SessionDebug
from realtime_stt.engine.protocol import EngineError, EngineSession
from realtime_stt.engine_input import EngineInput
from realtime_stt.metrics import Metrics, SessionMetrics
from realtime_stt.outbox import CloseRequest, Outbox
from realtime_stt.services import Services
from realtime_stt.session_core import (
    Action,
    Close,
    EndEngineInput,
    FlushEngine,
    PushAudio,
    Send,
    SessionCore,
    State,
)

log = logging.getLogger(__name__)
SEND_TIMEOUT_S = 10.0
"""A client that takes longer than this to accept one message is dropped."""
STALL_TIMEOUT_S = 15.0
"""The longest the reader waits for the engine to make room before the session fails."""


class Connection:
    """The I/O shell around one session's :class:`SessionCore`."""

    def __init__(  # noqa: PLR0917 - the parts of one connection, each used once
        self,
        websocket: WebSocket,
        services: Services,
        metrics: Metrics,
        core: SessionCore,
        stream: EngineSession,
        outbox: Outbox,
    ) -> None:
        self.websocket = websocket
        self.services = services
        self.core = core
        self.stream = stream
        self.outbox = outbox
        self.debug = SessionDebug(services.debug, core.session_id)
        self.metrics = SessionMetrics(metrics, core.sample_rate)
        engine_rate = services.engine.capabilities.input_sample_rate
        self.engine = EngineInput(stream, core.sample_rate, engine_rate, self.debug)
        self.last_audio_at = time.monotonic()

    async def shutdown(self) -> None:
        """The server is stopping: finish the session's finals, then close with 1001."""
        await self.apply(self.core.shutdown())

    async def apply(self, actions: Sequence[Action]) -> None:
        """Carry out the core's actions in order."""
        for action in actions:
            if isinstance(action, Send):
                if not self.outbox.put(action.message):
                    log.warning("session %s: client not reading; closing", self.core.session_id)
                    self.metrics.error("client_too_slow")
                    await self.apply(self.core.client_not_reading())
            elif isinstance(action, PushAudio):
                samples = action.samples
                self.debug.client_chunk(samples, self.core.sample_rate)
                self.metrics.audio_received(samples.size, self.core.received_samples)
                await self.engine.push(samples)
            elif isinstance(action, FlushEngine):
                self.engine.flush()
            elif isinstance(action, EndEngineInput):
                self.engine.end()
            elif isinstance(action, Close):
                self.outbox.close(action.code, action.reason)

    async def read(self) -> None:
        """Feed client frames to the core until the client goes away."""
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            data: bytes | None = message.get("bytes")
            text: str | None = message.get("text")
            if data is not None:
                self.last_audio_at = time.monotonic()
                await self.apply(self.core.receive_bytes(data))
                await self._wait_for_room()
            elif text is not None:
                await self.apply(self.core.receive_text(text))

    async def _wait_for_room(self) -> None:
        """Backpressure: read no faster than the engine works, but fail a stalled engine."""
        if self.core.state is State.CLOSED or self.stream.has_room:
            return  # the common case, once per frame: no wait and no stall timer to arm
        try:
            async with asyncio.timeout(STALL_TIMEOUT_S):
                await self.stream.wait_for_room()
        except TimeoutError:
            log.warning("session %s: the engine made no room in %g s", self.core.session_id,
                        STALL_TIMEOUT_S)  # fmt: skip
            message = f"the engine accepted no audio for {STALL_TIMEOUT_S:g} s"
            stalled = EngineError(code="engine_stalled", message=message, fatal=True)
            await self.apply(self.core.engine_event(stalled))

    async def watch_idle(self) -> None:
        """End the session once no audio came for ``IDLE_TIMEOUT_S`` (0: never)."""
        limit = self.services.settings.idle_timeout_s
        if limit <= 0:
            await anyio.sleep_forever()
        while self.core.state is State.OPEN:
            quiet = time.monotonic() - self.last_audio_at
            if quiet >= limit:
                await self.apply(self.core.idle_timeout(limit))
                break
            await anyio.sleep(limit - quiet)
        await anyio.sleep_forever()  # the writer ends the connection once the close is sent

    async def drain(self) -> None:
        """Feed engine events to the core; when the engine ends, let the writer close."""
        async for event in self.stream:
            self.debug.engine_event(event)
            await self.apply(self.core.engine_event(event))
        await self.apply(self.core.engine_finished())
        await anyio.sleep_forever()  # the writer ends the connection once the close is sent

    async def write(self) -> None:
        """Send queued messages, then the close; a stuck send ends the connection."""
        while True:
            item = await self.outbox.get()
            # asyncio's timeout rather than anyio.fail_after: the same TimeoutError for a fifth
            # of the cost, and it runs for every message
            async with asyncio.timeout(SEND_TIMEOUT_S):
                if isinstance(item, CloseRequest):
                    await self.websocket.close(code=item.code, reason=item.reason)
                    return
                await self.websocket.send_text(wire.encode(item))
            self.debug.sent(item)
            self.metrics.sent(item)

    async def run(self) -> None:
        """Run reader, drain and writer until one of them ends the connection."""
        async with anyio.create_task_group() as tasks:

            async def run_then_stop(part: str) -> None:
                try:
                    await getattr(self, part)()
                except (WebSocketDisconnect, anyio.ClosedResourceError, OSError, TimeoutError):
                    log.info("session %s: connection lost during %s", self.core.session_id, part)
                except RuntimeError as exc:
                    # uvicorn closed the socket itself (a missed keepalive pong): a send then
                    # fails with "Unexpected ASGI message ... after sending 'websocket.close'"
                    if "websocket.close" not in str(exc):
                        raise
                    log.info("session %s: connection lost during %s", self.core.session_id, part)
                finally:
                    tasks.cancel_scope.cancel()

            for part in ("read", "drain", "write", "watch_idle"):
                tasks.start_soon(run_then_stop, part)


class LiveConnections:
    """The connections open in this process, so a shutdown can drain them."""

    def __init__(self) -> None:
        self._open: set[Connection] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self.draining = False
        """True once :meth:`drain` has begun: new sessions are refused."""

    def __len__(self) -> int:
        return len(self._open)

    def add(self, connection: Connection) -> None:
        self._open.add(connection)
        self._idle.clear()

    def discard(self, connection: Connection) -> None:
        self._open.discard(connection)
        if not self._open:
            self._idle.set()

    async def drain(self, grace_s: float) -> None:
        """Ask every session to finish with 1001 and wait (at most ``grace_s``) until all closed."""
        self.draining = True
        for connection in list(self._open):
            await connection.shutdown()
        with anyio.move_on_after(grace_s):
            await self._idle.wait()
