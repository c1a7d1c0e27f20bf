"""A real uvicorn server on loopback, driven by a real WebSocket client."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from websockets.exceptions import ConnectionClosedOK, InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin

from tests.conftest import LiveServer, silence, speech

ServerFactory = Callable[..., LiveServer]


def test_full_session_over_a_real_socket(model_server_factory: ServerFactory) -> None:
    """Audio streamed over TCP to the local engine gives the expected final and a clean 1000
    close."""
    server = model_server_factory()
    audio = speech("en_weather") + silence(0.6)
    messages = []
    with connect(server.ws_url + "?language=en", origin=Origin("http://localhost:5173")) as ws:
        messages.append(json.loads(ws.recv()))
        for start in range(0, len(audio), 3200):
            ws.send(audio[start : start + 3200])
        ws.send(json.dumps({"type": "end"}))
        with pytest.raises(ConnectionClosedOK) as closed:
            messages.extend(json.loads(str(raw)) for raw in iter(ws.recv, None))
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1000
    assert messages[0]["type"] == "ready"
    finals = [m for m in messages if m["type"] == "final"]
    assert "sunny" in " ".join(m["text"].lower() for m in finals)


def test_foreign_origin_gets_http_403(live_server_factory: ServerFactory) -> None:
    """A page from another site is refused at the handshake with HTTP 403."""
    server = live_server_factory()
    with pytest.raises(InvalidStatus) as refused:
        connect(server.ws_url, origin=Origin("https://evil.example.com"))
    assert refused.value.response.status_code == 403


def test_missing_token_gets_http_403(live_server_factory: ServerFactory) -> None:
    """With API_TOKEN set, a handshake without the token is refused with HTTP 403."""
    server = live_server_factory(api_token="t0ken")
    with pytest.raises(InvalidStatus) as refused:
        connect(server.ws_url)
    assert refused.value.response.status_code == 403
    with connect(server.ws_url + "?token=t0ken") as ws:
        assert json.loads(ws.recv())["type"] == "ready"


def test_startup_freezes_what_lives_as_long_as_the_process() -> None:
    """Once the service listens, the objects made while it started (modules, SDK models, the
    app) are frozen, so the collector's full passes under load do not walk them."""
    import gc

    from realtime_stt.app import create_app
    from realtime_stt.server import DrainingServer
    from tests.conftest import make_settings
    from tests.scripted_engine import ScriptedEngine

    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    settings = make_settings()
    app = create_app(settings, engine=ScriptedEngine())
    try:
        with LiveServer(app, settings, lambda config: DrainingServer(config, app.state.live)):
            assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
