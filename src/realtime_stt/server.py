"""One server process: the app under uvicorn, draining its sessions before it stops.

On the first SIGTERM or SIGINT the server is draining at once (``/healthz`` answers 503
``draining``, new sessions are refused) and stops taking sessions' audio: every open session is
told (``shutting_down``), gets its remaining finals and a 1001 close (within
:data:`SHUTDOWN_GRACE_S`), then uvicorn shuts down as usual. A second signal stops at once.

:func:`uvicorn_config` is the one place uvicorn is configured (tests start servers with it too):
the WebSocket layer's frame limit is ``MAX_FRAME_BYTES`` and answers in words, request headers
have ``HEADER_TIMEOUT_S`` to arrive, and the access log is redacted by the app.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
from types import FrameType
from typing import Any

import uvicorn

from realtime_stt.settings import Settings
from realtime_stt.uvicorn_protocols import FrameLimitProtocol, header_timeout_protocol
from realtime_stt.ws_connection import LiveConnections

SHUTDOWN_GRACE_S = 15.0
STARTUP_FAILURE = 3
"""Exit status of a server that stopped before it began serving (uvicorn's own convention)."""


class DrainingServer(uvicorn.Server):
    """A uvicorn server that lets open sessions finish before it stops."""

    def __init__(self, config: uvicorn.Config, live: LiveConnections) -> None:
        super().__init__(config)
        self._live = live
        self._loop: asyncio.AbstractEventLoop | None = None
        self._draining = False

    async def serve(self, sockets: list[Any] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    async def startup(self, sockets: list[Any] | None = None) -> None:
        """Start listening, then move every object that exists so far out of the garbage
        collector's reach.

        Those objects (imported modules, the ``openai`` SDK's models and pydantic's schemas, the
        app; about 110,000) live as long as the process, yet each full collection walked all of
        them: at 200 proxied sessions a full pass took 70-150 ms, during which no message moved,
        and those pauses were the worst of the finals' added latency. Frozen, they are left out
        of every pass; what sessions allocate later is collected as before. The engine may still
        be loading in its background task: a model is a few native objects, not many Python ones.
        """
        await super().startup(sockets)
        gc.freeze()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._live.draining = True  # /healthz turns 503 now, not once the sessions are gone
        if self._draining or self._loop is None or not len(self._live):
            super().handle_exit(sig, frame)
            return
        self._draining = True
        loop = self._loop

        def start_drain() -> None:
            task = loop.create_task(self._drain_then_exit(sig, frame))
            self._drain_task = task

        loop.call_soon_threadsafe(start_drain)

    async def _drain_then_exit(self, sig: int, frame: FrameType | None) -> None:
        logging.getLogger(__name__).info("draining %d open sessions", len(self._live))
        await self._live.drain(SHUTDOWN_GRACE_S)
        super().handle_exit(sig, frame)


def serve(settings: Settings, sock: socket.socket | None = None) -> None:
    """Serve the app for ``settings`` until a signal stops it: on ``sock`` if given (a worker
    sharing its parent's socket), else on ``HOST``:``PORT``. Exits with :data:`STARTUP_FAILURE`
    when it could not start serving (the port is taken, the app failed to start)."""
    from realtime_stt.app import create_app  # noqa: PLC0415 - settings errors first, fast

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    config = uvicorn_config(app, settings, host=settings.host, port=settings.port)
    server = DrainingServer(config, app.state.live)
    server.run(sockets=None if sock is None else [sock])
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)


def uvicorn_config(app: Any, settings: Settings, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for ``app``: :mod:`realtime_stt.uvicorn_protocols`' HTTP and
    WebSocket protocols, the frame limit ``MAX_FRAME_BYTES``, forwarded headers, and ``options``
    (``host``, ``port``, ``log_level``...) on top."""
    values: dict[str, Any] = {
        "http": header_timeout_protocol(settings.header_timeout_s),
        "ws": FrameLimitProtocol,
        "ws_max_size": settings.max_frame_bytes,
        "proxy_headers": True,
        "log_level": "info",
    }
    values.update(options)
    return uvicorn.Config(app, **values)
