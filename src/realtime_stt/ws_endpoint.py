"""The ``/ws`` route: a thin shell that feeds :class:`SessionCore` and carries out its actions.

Per connection: handshake checks (Origin, token), parameter checks and a capacity check, then the
engine session is opened and a :class:`~realtime_stt.ws_connection.Connection` runs it; leaving the
engine session's context stops the engine's work for it.
"""

from __future__ import annotations

import logging
import re
import uuid

from starlette.websockets import WebSocket

from realtime_stt import wire
from realtime_stt.access import token_matches
from realtime_stt.engine.protocol import SessionConfig
from realtime_stt.metrics import Metrics
from realtime_stt.outbox import Outbox
from realtime_stt.services import Services
from realtime_stt.session_core import CLOSE_POLICY, CLOSE_TRY_AGAIN, SessionCore
from realtime_stt.ws_connection import Connection, LiveConnections

log = logging.getLogger(__name__)
LANGUAGE = re.compile(r"^[a-z]{2,3}$")
MIN_RATE, MAX_RATE = 8000, 48000


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
    live: LiveConnections = websocket.app.state.live
    if live.draining:
        error = wire.Error(code="shutting_down", message="the server is restarting; reconnect")
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
    metrics: Metrics = websocket.app.state.metrics
    metrics.error_sent(error.code)
    await websocket.send_text(wire.encode(error))
    await websocket.close(code=code)


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
    metrics: Metrics = websocket.app.state.metrics
    live: LiveConnections = websocket.app.state.live
    metrics.sessions_open.inc()
    try:
        async with engine.open_session(config) as stream:
            connection = Connection(websocket, services, metrics, core, stream, outbox)
            live.add(connection)
            try:
                await connection.run()
            finally:
                live.discard(connection)
    finally:
        metrics.sessions_open.dec()
    log.info("session %s closed after %.1f s of audio", session_id, core.received_seconds)
