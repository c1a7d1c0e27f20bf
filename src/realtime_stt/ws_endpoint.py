"""The ``/ws`` route: a thin shell that feeds :class:`SessionCore` and carries out its actions.

Per connection: handshake checks (Origin, token), parameter checks, a capacity check, then three
tasks in one task group: the *reader* (socket to core), the *drain* (engine events to core) and the
*writer* (outbox to socket). When any of them finishes the connection is over and the others are
cancelled; leaving the engine session's context stops its work.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence

import anyio
from starlette.websockets import WebSocket, WebSocketDisconnect

from realtime_stt import wire
from realtime_stt.access import token_matches
from realtime_stt.audio import Int16Array, StreamResampler
from realtime_stt.engine.protocol import (
    EngineError,
    EngineEvent,
    EngineSession,
    Final,
    Partial,
    SessionConfig,
)
from realtime_stt.outbox import CloseRequest, Outbox
from realtime_stt.services import Services
from realtime_stt.session_core import (
    CLOSE_POLICY,
    CLOSE_TRY_AGAIN,
    Action,
    Close,
    EndEngineInput,
    FlushEngine,
    PushAudio,
    Send,
    SessionCore,
)

log = logging.getLogger(__name__)
LANGUAGE = re.compile(r"^[a-z]{2,3}$")
MIN_RATE, MAX_RATE = 8000, 48000
OFF_LOOP_SAMPLES = 16_000
"""Chunks longer than this are resampled in a worker thread rather than on the event loop."""


async def websocket_endpoint(websocket: WebSocket) -> None:
    """Serve one client connection (see the README's protocol reference)."""
    services: Services = websocket.app.state.services
    settings = services.settings
    if not services.origins.allows(websocket.headers.get("origin")) or not token_matches(
        settings.api_token, websocket.headers, websocket.query_params
    ):
        await websocket.close(code=CLOSE_POLICY)  # before accept: HTTP 403 at the handshake
        return
    await websocket.accept()
    params = _parse_params(websocket, settings.language)
    if isinstance(params, wire.Error):
        await _refuse(websocket, params, CLOSE_POLICY)
        return
    language, sample_rate = params
    if not services.engine.ready:
        error = wire.Error(code="engine_not_ready", message="the engine is still loading")
        await _refuse(websocket, error, CLOSE_TRY_AGAIN)
        return
    session_id = uuid.uuid4().hex[:12]
    if not services.sessions.try_add(session_id):
        error = wire.Error(code="busy", message="the server is at its session limit; retry later")
        await _refuse(websocket, error, CLOSE_TRY_AGAIN)
        return
    try:
        await _run_session(websocket, services, session_id, language, sample_rate)
    finally:
        services.sessions.remove(session_id)


def _parse_params(websocket: WebSocket, default_language: str) -> tuple[str, int] | wire.Error:
    query = websocket.query_params
    language = query.get("language", default_language)
    if not LANGUAGE.fullmatch(language):
        return wire.Error(code="invalid_language", message="language must be an ISO 639-1 code")
    raw_rate = query.get("sample_rate", "16000")
    if not raw_rate.isdigit() or not MIN_RATE <= int(raw_rate) <= MAX_RATE:
        message = f"sample_rate must be an integer from {MIN_RATE} to {MAX_RATE}"
        return wire.Error(code="invalid_sample_rate", message=message)
    return language, int(raw_rate)


async def _refuse(websocket: WebSocket, error: wire.Error, code: int) -> None:
    await websocket.send_text(wire.encode(error))
    await websocket.close(code=code)


class _Connection:
    """Carries out :class:`SessionCore` actions for one accepted socket."""

    def __init__(
        self,
        websocket: WebSocket,
        services: Services,
        core: SessionCore,
        stream: EngineSession,
        outbox: Outbox,
    ) -> None:
        self.websocket = websocket
        self.services = services
        self.core = core
        self.stream = stream
        self.outbox = outbox
        self.resampler = StreamResampler(
            core.sample_rate, services.engine.capabilities.input_sample_rate
        )
        self.chunks_in = 0
        self.chunks_out = 0

    async def apply(self, actions: Sequence[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                self._send(action.message)
            elif isinstance(action, PushAudio):
                await self._push(action.samples)
            elif isinstance(action, FlushEngine):
                self.stream.flush()
            elif isinstance(action, EndEngineInput):
                self._push_engine_audio(self.resampler.finish())
                self.stream.end_input()
            elif isinstance(action, Close):
                self.outbox.close(action.code, action.reason)

    def _send(
        self, message: wire.Ready | wire.SpeechStarted | wire.Partial | wire.Final | wire.Error
    ) -> None:
        if not self.outbox.put(message):
            error = wire.Error(code="client_too_slow", message="the client is not reading")
            self.outbox.close(CLOSE_POLICY, error.code)

    async def _push(self, samples: Int16Array) -> None:
        debug = self.services.debug
        debug.record_chunk(
            "front-chunks", self.core.session_id, self.chunks_in, samples, self.core.sample_rate
        )
        self.chunks_in += 1
        if samples.size > OFF_LOOP_SAMPLES and self.resampler.in_rate != self.resampler.out_rate:
            converted = await anyio.to_thread.run_sync(self.resampler.process, samples)
        else:
            converted = self.resampler.process(samples)
        self._push_engine_audio(converted)

    def _push_engine_audio(self, samples: Int16Array) -> None:
        if samples.size == 0:
            return
        rate = self.resampler.out_rate
        self.services.debug.record_chunk(
            "openai-chunks", self.core.session_id, self.chunks_out, samples, rate
        )
        self.chunks_out += 1
        self.stream.push_audio(samples.astype("<i2", copy=False).tobytes())

    async def read(self) -> None:
        while True:
            try:
                message = await self.websocket.receive()
            except WebSocketDisconnect:
                return
            if message["type"] == "websocket.disconnect":
                return
            data: bytes | None = message.get("bytes")
            text: str | None = message.get("text")
            if data is not None:
                await self.apply(self.core.receive_bytes(data))
            elif text is not None:
                await self.apply(self.core.receive_text(text))

    async def drain(self) -> None:
        async for event in self.stream:
            _record_engine_event(self.services, self.core.session_id, event)
            await self.apply(self.core.engine_event(event))
        await self.apply(self.core.engine_finished())
        await anyio.sleep_forever()  # the writer ends the connection once the close is sent

    async def write(self) -> None:
        while True:
            item = await self.outbox.get()
            if isinstance(item, CloseRequest):
                await self.websocket.close(code=item.code, reason=item.reason)
                return
            payload = wire.encode(item)
            self.services.debug.record_text(
                "front-text", self.core.session_id, item.model_dump(exclude_none=True)
            )
            await self.websocket.send_text(payload)


def _record_engine_event(services: Services, session_id: str, event: EngineEvent) -> None:
    if isinstance(event, Partial | Final):
        kind = "partial" if isinstance(event, Partial) else "final"
        payload = {"type": kind, "segment_id": event.segment_id, "text": event.text}
        services.debug.record_text("openai-text", session_id, payload)
    elif isinstance(event, EngineError):
        payload = {"type": "error", "code": event.code, "message": event.message}
        services.debug.record_text("openai-text", session_id, payload)


async def _run_session(
    websocket: WebSocket, services: Services, session_id: str, language: str, sample_rate: int
) -> None:
    settings = services.settings
    engine = services.engine
    core = SessionCore(
        session_id=session_id,
        sample_rate=sample_rate,
        max_frame_bytes=settings.max_frame_bytes,
        max_session_seconds=settings.max_session_seconds,
    )
    outbox = Outbox(settings.outbox_size)
    outbox.put(
        wire.Ready(
            session_id=session_id,
            engine=engine.name,
            model=engine.model,
            language=language,
            sample_rate=sample_rate,
        )
    )
    config = SessionConfig(session_id=session_id, language=language)
    async with engine.open_session(config) as stream:
        connection = _Connection(websocket, services, core, stream, outbox)
        async with anyio.create_task_group() as tasks:

            async def run_then_stop(part: str) -> None:
                try:
                    await getattr(connection, part)()
                except (WebSocketDisconnect, anyio.ClosedResourceError, OSError):
                    log.debug("session %s: socket gone during %s", session_id, part)
                finally:
                    tasks.cancel_scope.cancel()

            for part in ("read", "drain", "write"):
                tasks.start_soon(run_then_stop, part)
    log.info("session %s closed after %.1f s of audio", session_id, core.received_seconds)
