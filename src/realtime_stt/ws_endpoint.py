"""The ``/ws`` route: a thin shell that feeds :class:`SessionCore` and carries out its actions.

Per connection: handshake checks (Origin; ``API_TOKEN`` or a browser token from
``POST /v1/tokens``), then, in order, the sample rate, the engine's readiness, the drain, the
language (one the engine supports, see :mod:`realtime_stt.languages`), the client address's
session count and the process's; the first that fails is answered with its ``error`` and close
code. Then the engine session is opened and a :class:`~realtime_stt.ws_connection.Connection`
runs it; leaving the engine session's context stops the engine's work for it.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass

from starlette.websockets import WebSocket

from realtime_stt import wire
from realtime_stt.access import offered_token, secret_equals
from realtime_stt.engine.protocol import SessionConfig
from realtime_stt.languages import supported_languages
from realtime_stt.metrics import Metrics
from realtime_stt.outbox import Outbox
from realtime_stt.services import Services
from realtime_stt.session_core import CLOSE_POLICY, CLOSE_TRY_AGAIN, SessionCore
from realtime_stt.ws_connection import Connection, LiveConnections

log = logging.getLogger(__name__)
RATE = re.compile(r"[0-9]{1,6}")
"""ASCII digits only: ``str.isdigit`` also accepts superscripts and other scripts' digits."""
MIN_RATE, MAX_RATE = 8000, 48000


@dataclass(frozen=True, slots=True)
class _Refusal:
    error: wire.Error
    close_code: int


async def websocket_endpoint(websocket: WebSocket) -> None:
    """Serve one client connection (see the README's protocol reference)."""
    services: Services = websocket.app.state.services
    if not services.origins.allows(websocket.headers.get("origin")) or not _authorised(
        services, websocket
    ):
        await websocket.close(code=CLOSE_POLICY)  # before accept: HTTP 403 at the handshake
        return
    await websocket.accept()
    client = websocket.client.host if websocket.client is not None else ""
    admitted = _admit(websocket, services, client)
    if isinstance(admitted, _Refusal):
        await _refuse(websocket, admitted.error, admitted.close_code)
        return
    session_id, language, sample_rate = admitted
    try:
        await _run_session(websocket, services, session_id, language, sample_rate)
    finally:
        services.sessions.remove(session_id)


def _authorised(services: Services, websocket: WebSocket) -> bool:
    """No ``API_TOKEN`` set, or the request carries it or a valid browser token."""
    expected = services.settings.api_token
    if expected is None:
        return True
    offered = offered_token(websocket.headers, websocket.query_params)
    if offered is None:
        return False
    if secret_equals(offered, expected):
        return True
    return services.browser_tokens is not None and services.browser_tokens.verify(offered)


def _admit(
    websocket: WebSocket, services: Services, client: str
) -> tuple[str, str, int] | _Refusal:
    """The new session's id, language and sample rate, registered; or why it is refused."""
    query = websocket.query_params
    raw_rate = query.get("sample_rate", "16000")
    if not RATE.fullmatch(raw_rate) or not MIN_RATE <= int(raw_rate) <= MAX_RATE:
        message = f"sample_rate must be an integer from {MIN_RATE} to {MAX_RATE}"
        return _Refusal(wire.Error(code="invalid_sample_rate", message=message), CLOSE_POLICY)
    if not services.engine.ready:
        error = wire.Error(code="engine_not_ready", message="the engine is still loading")
        return _Refusal(error, CLOSE_TRY_AGAIN)
    live: LiveConnections = websocket.app.state.live
    if live.draining:
        error = wire.Error(code="shutting_down", message="the server is restarting; reconnect")
        return _Refusal(error, CLOSE_TRY_AGAIN)
    language = query.get("language", services.settings.language)
    if language not in supported_languages(services.engine):
        message = f"language {language[:16]!r} is not one the {services.engine.name} engine knows"
        return _Refusal(wire.Error(code="invalid_language", message=message), CLOSE_POLICY)
    session_id = uuid.uuid4().hex[:12]
    if not services.sessions.try_add(session_id, client):
        if services.sessions.full:
            message = "the server is at its session limit; retry later"
            return _Refusal(wire.Error(code="busy", message=message), CLOSE_TRY_AGAIN)
        limit = services.sessions.per_client
        message = f"this address already has {limit} open sessions; close one first"
        return _Refusal(wire.Error(code="too_many_sessions", message=message), CLOSE_TRY_AGAIN)
    return session_id, language, int(raw_rate)


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
    metrics: Metrics = websocket.app.state.metrics
    outbox = Outbox(settings.outbox_size, on_partial_dropped=metrics.dropped_partials.inc)
    metrics.track_outbox(outbox)
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
