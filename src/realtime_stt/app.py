"""The FastAPI application: ``create_app(settings)`` wires routes, CORS, the engine and the store.

The engine loads in the background after start-up so ``/healthz`` can answer 503 while it does;
``/ws`` refuses sessions (``engine_not_ready``, close 1013) until it is ready.

The debug store is :class:`~realtime_stt.debug_log.DebugLog` (memory) unless ``REDIS_URL`` is
set, then :class:`~realtime_stt.debug_redis.RedisDebugLog`; the lifespan starts it before serving
and closes it after. An unreachable Redis never stops start-up.

Start-up logs one line naming the debug endpoints' mode (:mod:`realtime_stt.debug_access`) and
warns when the OpenAI engine is open to every Lovable app (:func:`log_startup_notes`); every URL
and header the service's loggers write is redacted (:mod:`realtime_stt.redaction`).

``app_from_env`` is the factory for running the app under another ASGI server (for example
``uvicorn --factory realtime_stt.app:app_from_env``); ``python -m realtime_stt`` builds its app with
``create_app`` itself, in each of its ``WORKERS`` processes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import anyio.to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from realtime_stt import debug_access
from realtime_stt.access import OriginPolicy
from realtime_stt.browser_tokens import BrowserTokens
from realtime_stt.browser_tokens import router as tokens_router
from realtime_stt.debug_log import DebugLog, DebugStore
from realtime_stt.engine.factory import build_engine
from realtime_stt.engine.protocol import TranscriptionEngine
from realtime_stt.http_routes import debug_router, router
from realtime_stt.metrics import Metrics
from realtime_stt.metrics import router as metrics_router
from realtime_stt.redaction import install_log_redaction
from realtime_stt.services import Services, SessionRegistry
from realtime_stt.settings import Settings, get_settings
from realtime_stt.ws_connection import LiveConnections
from realtime_stt.ws_endpoint import websocket_endpoint

log = logging.getLogger(__name__)
STRANGER_ORIGIN = "https://someone-elses-app.lovable.app"
"""An origin nobody configured on purpose: if it is allowed, every Lovable app is."""


def create_app(settings: Settings, engine: TranscriptionEngine | None = None) -> FastAPI:
    """Build the application for ``settings``.

    ``engine`` overrides the one the settings name; the app then starts it but leaves closing it to
    the caller, so one engine may serve several apps (as the tests do).
    """
    install_log_redaction()
    origins = OriginPolicy(settings.allowed_origins, settings.allowed_origin_regex)
    owns_engine = engine is None
    engine = engine if engine is not None else build_engine(settings)
    capacity = settings.max_sessions or engine.capabilities.default_max_sessions
    services = Services(
        settings=settings,
        engine=engine,
        debug=build_debug_store(settings),
        sessions=SessionRegistry(
            capacity, settings.max_sessions_per_client or max(1, capacity // 2)
        ),
        origins=origins,
        browser_tokens=None if settings.api_token is None else BrowserTokens(settings.api_token),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log_startup_notes(settings, origins)
        await services.debug.start()
        loader = asyncio.create_task(_start_engine(services))
        try:
            yield
        finally:
            loader.cancel()
            with suppress(asyncio.CancelledError):
                await loader
            if owns_engine:
                await services.engine.aclose()
            await services.debug.aclose()

    app = FastAPI(title="realtime-stt", lifespan=lifespan)
    app.state.services = services
    engine_in_use = services.engine

    def engine_busy() -> float:
        # Engines that run inference here count their worker time; a remote engine has none.
        return float(getattr(engine_in_use, "busy_seconds", 0.0))

    # An engine that pays per use (OpenAI) declares its running totals; they go to /metrics.
    app.state.metrics = Metrics(
        settings.instance_id, engine_busy, usage=getattr(engine_in_use, "usage", None)
    )
    app.state.live = LiveConnections()
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins.origins,
        allow_origin_regex=origins.regex or None,
        allow_methods=["GET"],
        allow_headers=["Authorization"],
    )
    app.include_router(router)
    app.include_router(metrics_router)
    app.include_router(tokens_router)
    app.include_router(debug_router)
    app.add_api_websocket_route("/ws", websocket_endpoint)
    # The demo page (static/index.html at GET /); mounted last so every route above wins.
    app.mount("/", StaticFiles(packages=[("realtime_stt", "static")], html=True), name="demo")
    return app


def log_startup_notes(settings: Settings, origins: OriginPolicy) -> None:
    """Log the debug endpoints' mode, and warn when anyone's Lovable app may use the OpenAI
    engine on this service's key (no ``API_TOKEN``, and the origin rule allows every
    ``*.lovable.app`` page)."""
    log.info("%s", debug_access.describe(settings))
    if (
        settings.resolved_engine == "openai"
        and settings.api_token is None
        and origins.allows(STRANGER_ORIGIN)
    ):
        log.warning(
            "ENGINE is openai, API_TOKEN is not set and the origin rule allows every "
            "*.lovable.app page: any Lovable app can transcribe on this service's OpenAI key. "
            "Set API_TOKEN (and mint browser tokens with POST /v1/tokens) or narrow "
            "ALLOWED_ORIGINS / ALLOWED_ORIGIN_REGEX"
        )


def build_debug_store(settings: Settings) -> DebugStore:
    """Redis Streams when ``REDIS_URL`` is set, else the in-memory ring buffers."""
    if settings.redis_url is None:
        return DebugLog(settings.debug_buffer_size, settings.instance_id)
    from realtime_stt.debug_redis import RedisDebugLog  # noqa: PLC0415 - only with REDIS_URL

    return RedisDebugLog(settings.redis_url, settings.debug_buffer_size, settings.instance_id)


def app_from_env() -> FastAPI:
    """The app for the settings in the environment and ``.env`` (for uvicorn's ``--factory``)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return create_app(get_settings())


async def _start_engine(services: Services) -> None:
    """Start the engine, then let it warm up in a worker thread: an engine with a
    ``warm_up(language)`` method builds there what its first session would otherwise build on
    the event loop (the local engine: the VAD's ONNX session, the default language's tokenizer)."""
    try:
        await services.engine.start()
        warm_up = getattr(services.engine, "warm_up", None)
        if callable(warm_up):
            await anyio.to_thread.run_sync(warm_up, services.settings.language)
    except Exception as exc:
        services.engine_error = f"{type(exc).__name__}: {exc}"
        log.exception("engine failed to start")
    else:
        log.info("engine %s ready (model %s)", services.engine.name, services.engine.model)
