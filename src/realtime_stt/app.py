"""The FastAPI application: ``create_app(settings)`` wires routes, CORS and the engine.

The engine loads in the background after start-up so ``/healthz`` can answer 503 while it does;
``/ws`` refuses sessions (``engine_not_ready``, close 1013) until it is ready.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from realtime_stt.access import OriginPolicy
from realtime_stt.debug_log import DebugLog
from realtime_stt.engine.factory import build_engine
from realtime_stt.engine.protocol import TranscriptionEngine
from realtime_stt.http_routes import debug_router, router
from realtime_stt.services import Services, SessionRegistry
from realtime_stt.settings import Settings
from realtime_stt.ws_endpoint import websocket_endpoint

log = logging.getLogger(__name__)


def create_app(settings: Settings, engine: TranscriptionEngine | None = None) -> FastAPI:
    """Build the application for ``settings``.

    ``engine`` overrides the one the settings name; the app then starts it but leaves closing it to
    the caller, so one engine may serve several apps (as the tests do).
    """
    origins = OriginPolicy(settings.allowed_origins, settings.allowed_origin_regex)
    owns_engine = engine is None
    services = Services(
        settings=settings,
        engine=engine if engine is not None else build_engine(settings),
        debug=DebugLog(settings.debug_buffer_size),
        sessions=SessionRegistry(settings.max_sessions),
        origins=origins,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loader = asyncio.create_task(_start_engine(services))
        try:
            yield
        finally:
            loader.cancel()
            with suppress(asyncio.CancelledError):
                await loader
            if owns_engine:
                await services.engine.aclose()

    app = FastAPI(title="realtime-stt", lifespan=lifespan)
    app.state.services = services
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins.origins,
        allow_origin_regex=origins.regex or None,
        allow_methods=["GET"],
        allow_headers=["Authorization"],
    )
    app.include_router(router)
    if settings.debug_endpoints:
        app.include_router(debug_router)
    app.add_api_websocket_route("/ws", websocket_endpoint)
    # The demo page (static/index.html at GET /); mounted last so every route above wins.
    app.mount("/", StaticFiles(packages=[("realtime_stt", "static")], html=True), name="demo")
    return app


async def _start_engine(services: Services) -> None:
    try:
        await services.engine.start()
    except Exception as exc:
        services.engine_error = f"{type(exc).__name__}: {exc}"
        log.exception("engine failed to start")
    else:
        log.info("engine %s ready (model %s)", services.engine.name, services.engine.model)
