"""Plain HTTP routes: ``/healthz``, ``/config``, the ``/debug/*`` ring buffers, and the browser
client module (``/client.js`` and its worklet).

``/healthz`` depends on the engine and the drain only: a shared debug store (Redis) that is
unreachable shows as ``"redis": "degraded"`` but leaves the status 200, because transcription goes
on without it. A debug read that the store cannot serve answers 503; who may read is
:mod:`realtime_stt.debug_access`'s decision.
"""

from __future__ import annotations

import hashlib
import time
from functools import cache
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from realtime_stt import debug_access
from realtime_stt.debug_log import (
    BUFFER_NAMES,
    BUFFER_PATHS,
    BufferName,
    DebugStoreUnavailableError,
)
from realtime_stt.services import Services


def get_services(request: Request) -> Services:
    """The process's shared :class:`Services`, set by ``create_app``."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
router = APIRouter()


@router.get("/healthz")
def healthz(request: Request, services: ServicesDep) -> JSONResponse:
    """200 once the engine is ready; 503 while it loads, after it failed to load, or from the
    moment a shutdown starts draining the sessions (``draining``), so a load balancer sends new
    clients elsewhere at once.

    ``redis`` is ``"off"`` (buffers in memory), ``"ok"`` or ``"degraded"``; it never changes the
    status code.
    """
    engine = services.engine
    status = "ok" if engine.ready else "starting"
    if services.engine_error is not None:
        status = "error"
    elif request.app.state.live.draining:
        status = "draining"
    body: dict[str, Any] = {
        "status": status,
        "engine": engine.name,
        "model": engine.model,
        "ready": engine.ready,
        "sessions": len(services.sessions.open),
        "max_sessions": services.sessions.capacity,
        "uptime_s": round(time.monotonic() - services.started_at, 3),
        "instance": services.settings.instance_id,
        "redis": services.debug.health,
        "debug_dropped": services.debug.dropped,
    }
    if services.engine_error is not None:
        body["error"] = services.engine_error
    return JSONResponse(body, status_code=200 if status == "ok" else 503)


@router.get("/config")
def config(services: ServicesDep) -> dict[str, Any]:
    """The effective configuration; secrets appear only as ``{"set": true|false}``.

    ``model_capabilities`` is what the engine declares about its model (the OpenAI engine: what
    the model supports, its turn detection, price and shutdown date), when it declares any.
    """
    view = services.settings.public_view()
    describe = getattr(services.engine, "public_view", None)
    if callable(describe):
        view["model_capabilities"] = describe()
    return view


# The browser client, built from clients/js into static/ (committed). Any page may import it: it is
# public code, and /ws still checks the page's Origin, so a disallowed page gets the client's
# "origin_not_allowed" error in words instead of a bare CORS failure at import time.
CLIENT_FILES = ("client.js", "pcm-worklet.js")


@cache
def _client_file(name: str) -> tuple[bytes, str]:
    body = resources.files("realtime_stt").joinpath("static", name).read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _make_client_route(name: str) -> None:
    def client_file(request: Request) -> Response:
        body, etag = _client_file(name)
        headers = {
            "Access-Control-Allow-Origin": "*",
            "Cache-Control": "no-cache",  # revalidate, so a new deployment is picked up at once
            "ETag": etag,
        }
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="text/javascript", headers=headers)

    client_file.__doc__ = f"The browser client's {name}, importable from any origin."
    router.add_api_route(
        f"/{name}", client_file, methods=["GET"], name=f"client-{name}", include_in_schema=False
    )


for _file in CLIENT_FILES:
    _make_client_route(_file)


def _debug_allowed(request: Request, services: ServicesDep) -> None:
    refusal = debug_access.check(services.settings, request.headers, request.query_params)
    if refusal is not None:
        detail = {"code": refusal.code, "message": refusal.message}
        raise HTTPException(status_code=refusal.status, detail=detail)


debug_router = APIRouter(prefix="/debug", dependencies=[Depends(_debug_allowed)])


def _make_debug_route(name: BufferName) -> None:
    async def read_buffer(
        services: ServicesDep,
        limit: Annotated[int | None, Query(ge=1)] = None,
        session_id: str | None = None,
    ) -> list[dict[str, Any]]:
        try:
            return await services.debug.read(name, limit=limit, session_id=session_id)
        except DebugStoreUnavailableError as exc:
            raise HTTPException(status_code=503, detail=str(exc)) from exc

    path = BUFFER_PATHS[name]
    read_buffer.__doc__ = f"The newest entries of the {name} ring buffer, oldest first."
    debug_router.add_api_route(f"/{path}", read_buffer, methods=["GET"], name=f"debug-{path}")


for _name in BUFFER_NAMES:
    _make_debug_route(_name)
