"""Bad input and faults: every case gets a clear answer, and the server goes on unharmed."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import threading
import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from realtime_stt import ws_connection
from realtime_stt.local.decoder import UtteranceDecoder
from tests.conftest import LiveServer, free_port, healthy, silence, spawn_service, speech
from tests.scripted_engine import ScriptedEngine, voiced
from tests.wsutil import collect, finals, finish, stream, transcript

ClientFactory = Callable[..., TestClient]


def server_tasks(client: TestClient) -> int:
    """The number of asyncio tasks alive on the app's event loop."""
    portal = client.portal
    assert portal is not None

    async def count() -> int:
        return len(asyncio.all_tasks())

    return portal.call(count)


def settle(client: TestClient, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def works(client: TestClient) -> None:
    """A new session still transcribes (the scripted engine: gives its final)."""
    with client.websocket_connect("/ws?language=en") as ws:
        engine = ws.receive_json()["engine"]
        stream(ws, speech("en_weather"))
        messages, code = finish(ws)
    assert code == 1000
    assert ("scripted words" if engine == "scripted" else "sunny") in transcript(messages)


@pytest.fixture(params=["scripted", pytest.param("local", marks=pytest.mark.model)])
def any_client(request: pytest.FixtureRequest, client_factory: ClientFactory) -> TestClient:
    """A ready client of the scripted engine, and (in the model tier) of the local engine."""
    if request.param == "scripted":
        return client_factory()
    model_client_factory: ClientFactory = request.getfixturevalue("model_client_factory")
    return model_client_factory()


class TestDisconnects:
    def test_abrupt_disconnect_mid_utterance_leaks_nothing(self, any_client: TestClient) -> None:
        """Dropping the socket mid-speech frees the session, its tasks and its threads."""
        client = any_client
        works(client)
        tasks, threads = server_tasks(client), threading.active_count()
        for _ in range(3):
            with client.websocket_connect("/ws?language=en") as ws:
                ws.receive_json()
                stream(ws, speech("en_fox")[: 32000 * 3])
        settle(client, lambda: client.get("/healthz").json()["sessions"] == 0)
        settle(client, lambda: server_tasks(client) <= tasks)
        # idle worker threads are pooled (and retire after 10 s): allow the pools' lane sizes
        assert threading.active_count() <= threads + 4
        works(client)


class TestFaults:
    def test_a_fatal_engine_error_reaches_only_its_own_session(
        self, client_factory: ClientFactory
    ) -> None:
        """An engine's fatal error in one session is that session's error, its open segment's
        final and 1011; the session beside it goes on."""
        client = client_factory(ScriptedEngine(fail_language="de"))
        with (
            client.websocket_connect("/ws?language=de") as broken,
            client.websocket_connect("/ws?language=en") as healthy,
        ):
            broken.receive_json()
            healthy.receive_json()
            stream(broken, voiced(0.5))
            stream(healthy, voiced(0.5))
            broken_messages, broken_code = collect(broken)
            healthy_messages, healthy_code = finish(healthy)
        assert broken_code == 1011
        assert [m["type"] for m in broken_messages] == ["speech_started", "error", "final"]
        assert broken_messages[1]["code"] == "engine_failure"  # then its open segment is closed
        assert healthy_code == 1000
        assert [m["text"] for m in finals(healthy_messages)] == ["scripted words"]
        assert all(m["type"] != "error" for m in healthy_messages)
        works(client)

    def test_a_local_decoder_failure_reaches_only_its_own_session(
        self, model_client: TestClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A decoder that raises for one session's language fails that session alone, with 1011."""
        client = model_client
        original = UtteranceDecoder.decode_batch

        def flaky(self: UtteranceDecoder, *args: object, **kwargs: object) -> object:
            if self.language == "de":
                raise RuntimeError("injected decoder fault")
            return original(self, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(UtteranceDecoder, "decode_batch", flaky)
        with (
            client.websocket_connect("/ws?language=de") as broken,
            client.websocket_connect("/ws?language=en") as healthy,
        ):
            broken.receive_json()
            healthy.receive_json()
            stream(broken, speech("en_weather") + silence(0.6))
            stream(healthy, speech("en_weather") + silence(0.6))
            broken_messages, broken_code = collect(broken)
            healthy_messages, healthy_code = finish(healthy)
        assert broken_code == 1011
        errors = [m["code"] for m in broken_messages if m["type"] == "error"]
        assert errors == ["engine_failure"]
        assert broken_messages[-1]["type"] == "final"  # its open segment is closed
        assert healthy_code == 1000
        assert "sunny" in transcript(healthy_messages)
        assert all(m["type"] != "error" for m in healthy_messages)
        monkeypatch.undo()
        works(client)


class TestLimits:
    def test_a_session_over_its_length_gets_its_finals_then_1000(
        self, client_factory: ClientFactory
    ) -> None:
        """At MAX_SESSION_SECONDS the client is told, the engine has had exactly that much audio,
        the utterance in progress gets its final, and the close is clean."""
        engine = ScriptedEngine()
        client = client_factory(engine, max_session_seconds=2.0)
        with client.websocket_connect("/ws?language=en") as ws:
            ws.receive_json()
            stream(ws, voiced(3.0) + silence(1.0))
            messages, code = collect(ws)
        assert code == 1000
        assert [m["code"] for m in messages if m["type"] == "error"] == ["session_too_long"]
        assert [m["ts"] for m in finals(messages)] == [{"start_s": 0.0, "end_s": 2.0}]
        assert bytes(engine.sessions[0].audio) == voiced(3.0)[: 2 * 32000]


class TestSlowClients:
    def test_a_client_that_never_reads_is_dropped_and_others_go_on(
        self, live_server_factory: Callable[..., LiveServer], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A client that stops reading is dropped after the send timeout; others go on."""
        monkeypatch.setattr(ws_connection, "SEND_TIMEOUT_S", 1.0)
        server = live_server_factory(outbox_size=8)
        import httpx

        # A tiny receive buffer, and a client that never reads: the server's sends soon stall.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        sock.connect(("127.0.0.1", server.port))
        # it never reads the server's close frame either: leaving, it need not wait 10 s for it
        with connect(server.ws_url, sock=sock, max_queue=1, close_timeout=0.5) as stuck:
            close_codes: list[int] = []
            try:
                for _ in range(20_000):  # each invalid frame earns an error it never reads
                    stuck.send("x")
            except ConnectionClosed as closed:  # the close got through before the buffers filled
                close_codes.append(closed.rcvd.code if closed.rcvd else 0)
            assert close_codes in ([], [1008])
            deadline = time.monotonic() + 30
            while httpx.get(server.http_url + "/healthz").json()["sessions"]:
                assert time.monotonic() < deadline, "the stuck session was never dropped"
                time.sleep(0.1)
        metrics = httpx.get(server.http_url + "/metrics").text
        assert 'stt_errors_total{code="client_too_slow"' in metrics
        with connect(server.ws_url + "?language=en") as ws:
            assert json.loads(ws.recv())["type"] == "ready"


class TestShutdown:
    @pytest.mark.model
    def test_sigterm_delivers_finals_then_closes_1001(self) -> None:
        """On SIGTERM an open session gets its final and a 1001 close, then the process exits."""
        port = free_port()
        process = spawn_service(port)
        try:
            deadline = time.monotonic() + 60
            while not healthy(port):
                assert time.monotonic() < deadline, "server did not become ready"
                time.sleep(0.1)
            with connect(f"ws://127.0.0.1:{port}/ws?language=en") as ws:
                assert json.loads(ws.recv())["type"] == "ready"
                audio = speech("en_weather")
                for start in range(0, len(audio), 3200):
                    ws.send(audio[start : start + 3200])
                assert json.loads(ws.recv())["type"] == "speech_started"
                process.send_signal(signal.SIGTERM)
                messages: list[dict[str, object]] = []
                with pytest.raises(ConnectionClosed) as closed:
                    messages.extend(json.loads(str(raw)) for raw in iter(ws.recv, None))
            finals = [m for m in messages if m["type"] == "final"]
            assert "sunny" in str(finals[-1]["text"]).lower()
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1001
            # uvicorn re-raises the signal once it has shut down, as a service manager expects
            assert process.wait(timeout=30) in {0, -signal.SIGTERM}
        finally:
            process.kill()
            process.wait()


class TestLongSessions:
    def test_minutes_of_audio_stream_through_with_every_final(
        self, model_client: TestClient
    ) -> None:
        """Three minutes of speech and silence, sent fast, give one final per utterance."""
        utterance = speech("en_weather") + silence(2.0)
        repeats = 30
        with model_client.websocket_connect("/ws?language=en") as ws:
            ws.receive_json()
            for _ in range(repeats):
                stream(ws, utterance, chunk=32000)
            messages, code = finish(ws)
        assert code == 1000
        texts = [m["text"].lower() for m in messages if m["type"] == "final"]
        assert len(texts) == repeats
        assert all("sunny" in text for text in texts)


class TestMetrics:
    def test_metrics_count_sessions_audio_messages_and_latency(self, client: TestClient) -> None:
        """/metrics exposes sessions, audio seconds, messages by type and final latency."""
        with client.websocket_connect("/ws?language=en") as ws:
            ws.receive_json()
            ws.send_text("nope")
            stream(ws, speech("en_weather") + silence(0.6))
            finish(ws)
        samples = metric_samples(client)

        def value(prefix: str) -> float:
            return sum(v for k, v in samples.items() if k.startswith(prefix))

        assert value("stt_sessions_open{") == 0
        assert value("stt_audio_received_seconds_total{") == pytest.approx(4.37, abs=0.05)
        assert value('stt_messages_sent_total{instance="') >= 3
        assert any('type="final"' in k for k in samples if k.startswith("stt_messages_sent"))
        assert value('stt_errors_total{code="invalid_json"') == 1
        assert value("stt_final_latency_seconds_count{") >= 1

    def test_the_local_engines_busy_time_is_exported(self, model_client: TestClient) -> None:
        """The local engine's worker time goes to stt_engine_busy_seconds."""
        with model_client.websocket_connect("/ws?language=en") as ws:
            ws.receive_json()
            stream(ws, speech("en_weather") + silence(0.6))
            finish(ws)
        samples = metric_samples(model_client)
        busy = [v for k, v in samples.items() if k.startswith("stt_engine_busy_seconds{")]
        assert busy
        assert sum(busy) > 0


def metric_samples(client: TestClient) -> dict[str, float]:
    """Every sample of ``/metrics``, by name and labels."""
    return {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in client.get("/metrics").text.splitlines()
        if line and not line.startswith("#")
    }
