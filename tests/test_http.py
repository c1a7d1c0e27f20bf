"""HTTP routes: health, config, CORS and the debug ring buffers, through the real ASGI stack."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable

from fastapi.testclient import TestClient

from realtime_stt.app import create_app
from tests.conftest import make_settings, silence, wait_ready
from tests.scripted_engine import ScriptedEngine, voiced
from tests.wsutil import collect, finish, stream

ClientFactory = Callable[..., TestClient]


class TestHealth:
    def test_healthz_is_503_until_the_engine_is_ready_then_200(self) -> None:
        """/healthz answers 503 while the engine starts, /ws refuses sessions then, and both
        serve once it is ready."""
        started = threading.Event()
        app = create_app(make_settings(), engine=ScriptedEngine(start_gate=started))
        with TestClient(app) as client:
            try:
                first = client.get("/healthz")
                with client.websocket_connect("/ws") as ws:
                    refused, code = collect(ws)
            finally:
                started.set()
            wait_ready(client)
            body = client.get("/healthz").json()
            with client.websocket_connect("/ws") as ws:
                assert ws.receive_json()["type"] == "ready"
        assert first.status_code == 503
        assert first.json()["status"] == "starting"
        assert [m["code"] for m in refused] == ["engine_not_ready"]
        assert code == 1013
        assert body["status"] == "ok"
        assert body["engine"] == "scripted"
        assert body["sessions"] == 0

    def test_session_limit_is_the_engines_unless_max_sessions_is_set(self) -> None:
        """Without MAX_SESSIONS each engine's declared default applies; MAX_SESSIONS wins."""
        cases = [
            ({}, 8),
            ({"engine": "openai", "openai_api_key": "sk-test"}, 100),
            ({"engine": "openai", "openai_api_key": "sk-test", "max_sessions": "3"}, 3),
            ({"max_sessions": ""}, 8),
        ]
        for overrides, expected in cases:
            app = create_app(make_settings(local_model="/nonexistent/model", **overrides))
            with TestClient(app) as client:
                assert client.get("/healthz").json()["max_sessions"] == expected, overrides

    def test_healthz_stays_503_when_the_model_cannot_load(self) -> None:
        """A model path that does not exist leaves /healthz at 503 with the reason."""
        app = create_app(make_settings(local_model="/nonexistent/model"))
        with TestClient(app) as client:
            deadline = time.monotonic() + 30
            while (response := client.get("/healthz")).json()["status"] == "starting":
                assert time.monotonic() < deadline, "the engine neither failed nor started"
                time.sleep(0.02)
        assert response.status_code == 503
        assert response.json()["status"] == "error"
        assert "/nonexistent/model" in response.json()["error"]


class TestConfig:
    def test_config_never_shows_a_secret(self, client_factory: ClientFactory) -> None:
        """Keys and tokens that are set appear only as set: true."""
        client = client_factory(openai_api_key="sk-very-secret", debug_token="dt")
        response = client.get("/config?token=dt")
        assert response.status_code == 200
        assert "sk-very-secret" not in response.text
        assert response.json()["openai_api_key"] == {"set": True}
        assert response.json()["language"] == "en"

    def test_invalid_setting_stops_startup_naming_the_variable(self) -> None:
        """An invalid PORT exits with status 2 and one line naming PORT."""
        result = subprocess.run(
            [sys.executable, "-m", "realtime_stt"],
            env={"PORT": "not-a-port", "PATH": ""},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2
        assert "PORT" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


class TestCors:
    def test_allowed_origin_gets_cors_headers(self, client: TestClient) -> None:
        """A *.lovable.app page may read the HTTP API."""
        origin = "https://my-app.lovable.app"
        response = client.get("/healthz", headers={"origin": origin})
        assert response.headers["access-control-allow-origin"] == origin

    def test_foreign_origin_gets_no_cors_headers(self, client: TestClient) -> None:
        """Other origins get no CORS grant."""
        response = client.get("/healthz", headers={"origin": "https://lovable.app.evil.com"})
        assert "access-control-allow-origin" not in response.headers

    def test_configured_origins_replace_the_defaults(self, client_factory: ClientFactory) -> None:
        """ALLOWED_ORIGINS and ALLOWED_ORIGIN_REGEX decide who is allowed."""
        client = client_factory(allowed_origins="https://a.example", allowed_origin_regex="")
        allowed = client.get("/healthz", headers={"origin": "https://a.example"})
        refused = client.get("/healthz", headers={"origin": "https://x.lovable.app"})
        assert allowed.headers["access-control-allow-origin"] == "https://a.example"
        assert "access-control-allow-origin" not in refused.headers


class TestDebugBuffers:
    def test_buffers_record_each_stage_without_raw_audio(
        self, client_factory: ClientFactory
    ) -> None:
        """Chunks in, chunks to the engine, engine text and client messages are all recorded."""
        client = client_factory(ScriptedEngine(texts=("tomorrow will be sunny",)))
        with client.websocket_connect("/ws?language=en") as ws:
            session_id = ws.receive_json()["session_id"]
            stream(ws, voiced(3.0) + silence(0.5))
            finish(ws)
        chunks = client.get(f"/debug/front-chunks?session_id={session_id}").json()
        assert len(chunks) >= 30
        assert set(chunks[0]) == {
            "session_id", "seq", "time", "bytes", "samples", "sample_rate", "duration_s",
            "rms_dbfs", "peak", "instance",
        }  # fmt: skip
        assert [c["seq"] for c in chunks] == list(range(len(chunks)))
        assert client.get("/debug/openai-chunks").json()
        engine_text = client.get("/debug/openai-text").json()
        assert any("sunny" in entry.get("text", "").lower() for entry in engine_text)
        sent = client.get(f"/debug/front-text?session_id={session_id}").json()
        assert sent[0]["type"] == "ready"
        assert sent[-1]["type"] == "final"

    def test_buffers_are_bounded_and_filtered(self, client_factory: ClientFactory) -> None:
        """Each buffer keeps only the newest N entries; limit and session_id filter them."""
        client = client_factory(debug_buffer_size=5)
        sessions = []
        for _ in range(2):
            with client.websocket_connect("/ws") as ws:
                sessions.append(ws.receive_json()["session_id"])
                stream(ws, silence(1.0))
                finish(ws)
        entries = client.get("/debug/front-chunks").json()
        assert len(entries) == 5
        assert {e["session_id"] for e in entries} == {sessions[1]}
        assert len(client.get("/debug/front-chunks?limit=2").json()) == 2
        assert client.get(f"/debug/front-chunks?session_id={sessions[0]}").json() == []

    def test_debug_token_protects_the_buffers(self, client_factory: ClientFactory) -> None:
        """With DEBUG_TOKEN set, the buffers need it."""
        client = client_factory(debug_token="peek")
        assert client.get("/debug/front-text").status_code == 401
        assert client.get("/debug/front-text?token=peek").status_code == 200

    def test_debug_endpoints_can_be_turned_off(self, client_factory: ClientFactory) -> None:
        """DEBUG_ENDPOINTS=off refuses every read with 403 and says how to turn them on."""
        client = client_factory(debug_endpoints="off")
        response = client.get("/debug/front-text")
        assert response.status_code == 403
        assert response.json()["detail"]["code"] == "debug_endpoints_off"
        assert "DEBUG_ENDPOINTS=auto" in response.json()["detail"]["message"]
