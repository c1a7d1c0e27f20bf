"""The seven bugs an attack on a running server found (issue 16), each answered in words now."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import suppress

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from realtime_stt import ws_connection
from realtime_stt.app import create_app
from tests.conftest import LiveServer, make_settings
from tests.scripted_engine import ScriptedEngine, voiced
from tests.wsutil import collect, finish, until_closed

ClientFactory = Callable[..., TestClient]


def refusal(client: TestClient, url: str) -> tuple[list[dict[str, object]], int]:
    """The messages and close code of a session at ``url`` that is refused after accept."""
    with client.websocket_connect(url) as ws:
        return collect(ws)


class TestSampleRate:
    @pytest.mark.parametrize("rate", ["\u00b2", "\u0661\u0666\u0660\u0660\u0660", "16000\u00b2"])
    def test_only_ascii_digits_are_a_sample_rate(self, client: TestClient, rate: str) -> None:
        """A superscript or Arabic-Indic digit gets invalid_sample_rate and 1008, not a crash."""
        messages, code = refusal(client, f"/ws?sample_rate={rate}")
        assert [m["code"] for m in messages] == ["invalid_sample_rate"]
        assert code == 1008


class TestLanguage:
    @pytest.mark.parametrize("language", ["xx", "swe", "ab", "EN", "e"])
    def test_a_language_whisper_lacks_is_refused_before_ready(
        self, model_client: TestClient, language: str
    ) -> None:
        """The local engine refuses codes its model does not know with invalid_language, 1008."""
        messages, code = refusal(model_client, f"/ws?language={language}")
        assert [m.get("code") for m in messages] == ["invalid_language"]
        assert code == 1008

    def test_whisper_only_languages_are_accepted(self, model_client: TestClient) -> None:
        """A code Whisper knows beyond ISO 639-1 (haw) opens a session."""
        with model_client.websocket_connect("/ws?language=haw") as ws:
            assert ws.receive_json()["language"] == "haw"
            finish(ws)

    @pytest.mark.parametrize("language", ["xx", "swe"])
    def test_the_openai_engine_refuses_codes_outside_iso_639_1(
        self, client_factory: ClientFactory, language: str
    ) -> None:
        """The OpenAI engine no longer passes unknown codes upstream: invalid_language, 1008."""
        client = client_factory(engine="openai", openai_api_key="sk-test")
        messages, code = refusal(client, f"/ws?language={language}")
        assert [m.get("code") for m in messages] == ["invalid_language"]
        assert code == 1008


class TestDrain:
    def test_healthz_says_draining_as_soon_as_the_drain_starts(self, client: TestClient) -> None:
        """Once a shutdown starts draining, /healthz answers 503 draining."""
        assert client.get("/healthz").status_code == 200
        assert client.portal is not None
        client.portal.call(client.app.state.live.drain, 0.0)  # type: ignore[attr-defined]
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.json()["status"] == "draining"

    def test_a_streaming_client_is_told_of_the_drain_not_of_audio_after_end(
        self, client: TestClient
    ) -> None:
        """A client still streaming when the drain starts gets shutting_down once, its final,
        and 1001; the audio it keeps sending is dropped without audio_after_end."""
        assert client.portal is not None
        with client.websocket_connect("/ws") as ws:
            assert ws.receive_json()["type"] == "ready"
            ws.send_bytes(voiced(0.2))
            assert ws.receive_json()["type"] == "speech_started"
            client.portal.start_task_soon(client.app.state.live.drain, 10.0)  # type: ignore[attr-defined]
            first = ws.receive_json()
            for _ in range(5):
                ws.send_bytes(voiced(0.2))
            ws.send_text(json.dumps({"type": "end"}))
            rest, code = collect(ws)
        assert first["type"] == "error"
        assert first["code"] == "shutting_down"
        assert [m["type"] for m in rest] == ["final"]
        assert code == 1001


class TestStalledEngine:
    def test_a_stalled_engine_fails_the_session_in_words(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An engine that never makes room ends the session with engine_stalled, the open
        segment's final and 1011, before the keepalive would drop the client silently."""
        monkeypatch.setattr(ws_connection, "STALL_TIMEOUT_S", 0.5, raising=False)
        settings = make_settings()
        app = create_app(settings, engine=ScriptedEngine(stalled=True))
        with LiveServer(app, settings) as server, connect(server.ws_url) as ws:
            assert json.loads(ws.recv(timeout=30))["type"] == "ready"
            ws.send(voiced(0.1))
            messages, code = until_closed(ws)
        assert [m["type"] for m in messages] == ["speech_started", "error", "final"]
        assert messages[1]["code"] == "engine_stalled"
        assert code == 1011


class TestMetrics:
    def test_metrics_are_collected_on_the_event_loop(self, client: TestClient) -> None:
        """/metrics runs its collectors on the loop that changes what they read."""
        seen: list[int] = []

        class ThreadProbe(Collector):
            def collect(self) -> Iterator[Metric]:
                seen.append(threading.get_ident())
                yield GaugeMetricFamily("probe", "the collecting thread", value=0)

        client.app.state.metrics.registry.register(ThreadProbe())  # type: ignore[attr-defined]
        assert client.portal is not None
        loop_thread = client.portal.call(_thread_ident)
        assert client.get("/metrics").status_code == 200
        assert seen == [loop_thread]

    def test_dropped_partials_are_counted(self, client_factory: ClientFactory) -> None:
        """Every partial of a burst is either sent or counted in stt_partials_dropped_total."""
        client = client_factory(ScriptedEngine(partials=50))
        with client.websocket_connect("/ws") as ws:
            ws.receive_json()
            ws.send_bytes(voiced(0.2))
            messages, _ = finish(ws)
        sent = sum(1 for m in messages if m["type"] == "partial")
        dropped = _sample(client.get("/metrics").text, "stt_partials_dropped_total{")
        assert dropped > 0
        assert sent + dropped == 50


class TestHugeFrames:
    @pytest.mark.parametrize("frame", [b"\0" * 5_000_000, "x" * 10_000_000])
    def test_frames_megabytes_over_the_limit_get_frame_too_large(
        self, live_server_factory: Callable[..., LiveServer], frame: bytes | str
    ) -> None:
        """A 5 MB binary or 10 MB text frame gets the frame_too_large error, then 1009."""
        server = live_server_factory()
        with connect(server.ws_url + "?language=en", max_size=None) as ws:
            assert json.loads(ws.recv(timeout=30))["type"] == "ready"
            with suppress(ConnectionClosed):  # the server may close before the frame is all sent
                ws.send(frame)
            messages, code = until_closed(ws)
        assert [m["code"] for m in messages] == ["frame_too_large"]
        assert code == 1009

    def test_a_frame_at_the_limit_is_taken(
        self, live_server_factory: Callable[..., LiveServer]
    ) -> None:
        """The WebSocket layer's limit is MAX_FRAME_BYTES itself: a frame of that size is audio."""
        server = live_server_factory(max_frame_bytes=64_000)
        with connect(server.ws_url + "?language=en") as ws:
            ws.recv(timeout=30)
            ws.send(b"\0" * 64_000)
            ws.send(json.dumps({"type": "end"}))
            messages, code = until_closed(ws)
        assert all(m["type"] != "error" for m in messages)
        assert code == 1000
        health = httpx.get(server.http_url + "/healthz").json()
        assert health["sessions"] == 0


def _thread_ident() -> int:
    return threading.get_ident()


def _sample(text: str, prefix: str) -> float:
    return sum(float(line.split(" ")[1]) for line in text.splitlines() if line.startswith(prefix))
