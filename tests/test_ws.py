"""``/ws`` through the real ASGI stack on the scripted engine: the session's messages, bad input,
and who may connect. (What the local engine hears is in ``test_ws_local``.)"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import numpy as np
import pytest
import soxr
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.conftest import silence
from tests.scripted_engine import ScriptedEngine, voiced
from tests.wsutil import collect, finals, finish, stream

ClientFactory = Callable[..., TestClient]
TWO_UTTERANCES = voiced(0.5) + silence(0.5) + voiced(0.7) + silence(0.5)
"""Speech at 0.0-0.5 s and 1.0-1.7 s, each followed by a pause the scripted engine ends it at."""


class TestSessionFlow:
    def test_ready_then_a_final_per_utterance_then_close_1000(
        self, client_factory: ClientFactory
    ) -> None:
        """A session announces itself, forwards each utterance's events in order with the
        engine's times, and closes 1000 after ``end``."""
        client = client_factory(ScriptedEngine(texts=("one two", "three")))
        with client.websocket_connect("/ws?language=en") as ws:
            ready = ws.receive_json()
            stream(ws, TWO_UTTERANCES)
            messages, code = finish(ws)
        assert ready["type"] == "ready"
        assert (ready["engine"], ready["language"], ready["sample_rate"]) == (
            "scripted",
            "en",
            16000,
        )
        assert ready["session_id"]
        assert code == 1000
        assert [(m["type"], m["segment_id"]) for m in messages if m["type"] != "partial"] == [
            ("speech_started", 0),
            ("final", 0),
            ("speech_started", 1),
            ("final", 1),
        ]
        first, second = finals(messages)
        assert (first["text"], first["ts"]) == ("one two", {"start_s": 0.0, "end_s": 0.5})
        assert (second["text"], second["ts"]) == ("three", {"start_s": 1.0, "end_s": 1.7})
        assert [w["word"] for w in first["words"]] == ["one", "two"]
        assert first["words"][0]["start_s"] == 0.0
        assert first["words"][-1]["end_s"] == 0.5

    def test_partials_come_between_speech_started_and_the_final(self, client: TestClient) -> None:
        """The engine's partials reach the client, inside their utterance's span."""
        with client.websocket_connect("/ws") as ws:
            ws.receive_json()
            stream(ws, voiced(1.6) + silence(0.5))
            messages, _ = finish(ws)
        kinds = [m["type"] for m in messages]
        assert kinds[0] == "speech_started"
        assert kinds[-1] == "final"
        assert "partial" in kinds[1:-1]
        assert all(m["ts"]["end_s"] <= 1.6 for m in messages if m["type"] == "partial")

    def test_end_delivers_the_final_of_speech_still_in_progress(self, client: TestClient) -> None:
        """Audio that stops mid-utterance gets its final before the 1000 close."""
        with client.websocket_connect("/ws") as ws:
            ws.receive_json()
            stream(ws, voiced(0.8))
            messages, code = finish(ws)
        assert code == 1000
        assert [(m["type"], m["ts"]["end_s"]) for m in finals(messages)] == [("final", 0.8)]

    def test_flush_reaches_the_engine_and_its_final_comes_at_once(
        self, client_factory: ClientFactory
    ) -> None:
        """``flush`` makes the engine close the utterance now; ``end`` then has nothing left."""
        engine = ScriptedEngine()
        client = client_factory(engine)
        with client.websocket_connect("/ws") as ws:
            ws.receive_json()
            stream(ws, voiced(1.0))
            ws.send_text(json.dumps({"type": "flush"}))
            message = ws.receive_json()
            while message["type"] != "final":
                message = ws.receive_json()
            assert message["ts"] == {"start_s": 0.0, "end_s": 1.0}
            messages, code = finish(ws)
        assert code == 1000
        assert finals(messages) == []
        assert engine.sessions[0].flushes == 1

    def test_odd_chunking_reaches_the_engine_unchanged(self, client_factory: ClientFactory) -> None:
        """Chunks of odd sizes that split samples give the engine the very same audio, and the
        client the same finals, as even chunks."""
        engine = ScriptedEngine()
        client = client_factory(engine)
        results = []
        for chunk in (3200, 777):
            with client.websocket_connect("/ws") as ws:
                ws.receive_json()
                stream(ws, TWO_UTTERANCES, chunk=chunk)
                messages, _ = finish(ws)
            results.append([(m["text"], m["ts"]) for m in finals(messages)])
        assert results[0] == results[1]
        assert len(results[0]) == 2
        assert [bytes(s.audio) for s in engine.sessions] == [TWO_UTTERANCES] * 2

    def test_other_input_rates_reach_the_engine_at_its_rate(
        self, client_factory: ClientFactory
    ) -> None:
        """48 kHz audio is resampled to the engine's 16 kHz; times are seconds of the client's
        audio."""
        engine = ScriptedEngine()
        client = client_factory(engine)
        original = np.frombuffer(voiced(1.0) + silence(0.5), dtype="<i2")
        upsampled = soxr.resample(original, 16000, 48000).astype("<i2").tobytes()
        with client.websocket_connect("/ws?sample_rate=48000") as ws:
            assert ws.receive_json()["sample_rate"] == 48000
            stream(ws, upsampled, chunk=9600)
            messages, _ = finish(ws)
        heard = np.frombuffer(bytes(engine.sessions[0].audio), dtype="<i2")
        assert abs(heard.size - original.size) <= 16
        [final] = finals(messages)
        assert final["ts"]["start_s"] == pytest.approx(0.0, abs=0.02)
        assert final["ts"]["end_s"] == pytest.approx(1.0, abs=0.02)


class TestBadInput:
    def test_each_bad_frame_gets_an_error_and_the_session_goes_on(self, client: TestClient) -> None:
        """Malformed control frames are answered with errors and the session goes on."""
        with client.websocket_connect("/ws") as ws:
            ws.receive_json()
            ws.send_text("this is not json")
            assert ws.receive_json()["code"] == "invalid_json"
            ws.send_text('{"type": "rewind"}')
            assert ws.receive_json()["code"] == "unknown_message"
            ws.send_bytes(b"")
            stream(ws, voiced(0.5))
            messages, code = finish(ws)
        assert code == 1000
        assert [m["text"] for m in finals(messages)] == ["scripted words"]
        assert all(m["type"] != "error" for m in messages)

    def test_oversized_frame_is_refused_with_1009(self, client_factory: ClientFactory) -> None:
        """A frame over MAX_FRAME_BYTES gets frame_too_large, then close 1009."""
        client = client_factory(max_frame_bytes=4096)
        with client.websocket_connect("/ws") as ws:
            ws.receive_json()
            ws.send_bytes(b"\0" * 5000)
            messages, code = collect(ws)
        assert messages[0]["code"] == "frame_too_large"
        assert code == 1009

    @pytest.mark.parametrize(
        ("query", "code"),
        [("sample_rate=4000", "invalid_sample_rate"), ("language=english", "invalid_language")],
    )
    def test_bad_parameters_are_refused_with_1008(
        self, client: TestClient, query: str, code: str
    ) -> None:
        """Out-of-range parameters get an error naming the problem and a 1008 close."""
        with client.websocket_connect(f"/ws?{query}") as ws:
            messages, close = collect(ws)
        assert messages == [messages[0]]
        assert messages[0]["code"] == code
        assert close == 1008

    def test_audio_after_end_is_reported_once(self, client_factory: ClientFactory) -> None:
        """Audio sent after ``end`` is ignored with one audio_after_end error."""
        released = threading.Event()
        engine = ScriptedEngine(end_gate=released)  # the session stays until released
        client = client_factory(engine)
        with client.websocket_connect("/ws") as ws:
            ws.receive_json()
            stream(ws, voiced(0.5))
            ws.send_text('{"type": "end"}')
            ws.send_bytes(voiced(0.1))
            ws.send_bytes(voiced(0.1))
            ws.send_text('{"type": "end"}')  # answered after both frames were handled
            messages = [ws.receive_json()]
            while messages[-1].get("code") != "already_ended":
                messages.append(ws.receive_json())
            released.set()
            rest, code = collect(ws)
        errors = [m["code"] for m in messages + rest if m["type"] == "error"]
        assert errors == ["audio_after_end", "already_ended"]
        assert code == 1000
        assert bytes(engine.sessions[0].audio) == voiced(0.5)


class TestAccess:
    def test_sessions_beyond_the_limit_are_busy(self, client_factory: ClientFactory) -> None:
        """The session over MAX_SESSIONS gets busy and close 1013; the first one goes on."""
        client = client_factory(max_sessions=1)
        with client.websocket_connect("/ws") as first:
            first.receive_json()
            with client.websocket_connect("/ws") as second:
                messages, code = collect(second)
            assert messages[0]["code"] == "busy"
            assert code == 1013
            stream(first, voiced(0.5))
            messages, code = finish(first)
        assert code == 1000
        assert len(finals(messages)) == 1

    def test_foreign_origin_is_refused_at_the_handshake(self, client: TestClient) -> None:
        """A browser origin outside the allowed list cannot open /ws."""
        headers = {"origin": "https://evil.example.com"}
        with pytest.raises(WebSocketDisconnect) as refused:
            client.websocket_connect("/ws", headers=headers).__enter__()
        assert refused.value.code == 1008

    @pytest.mark.parametrize(
        "origin", ["https://stefan-api-test-6.lovable.app", "https://preview-x1.lovable.app", None]
    )
    def test_allowed_origins_connect(self, client: TestClient, origin: str | None) -> None:
        """The Lovable app, any *.lovable.app page, and non-browser clients may connect."""
        headers = {"origin": origin} if origin else {}
        with client.websocket_connect("/ws", headers=headers) as ws:
            assert ws.receive_json()["type"] == "ready"

    def test_token_is_required_when_set(self, client_factory: ClientFactory) -> None:
        """With API_TOKEN set, /ws needs ?token= or a Bearer header."""
        client = client_factory(api_token="s3cret")
        with pytest.raises(WebSocketDisconnect):
            client.websocket_connect("/ws").__enter__()
        with pytest.raises(WebSocketDisconnect):
            client.websocket_connect("/ws?token=wrong").__enter__()
        with client.websocket_connect("/ws?token=s3cret") as ws:
            assert ws.receive_json()["type"] == "ready"
        bearer = {"authorization": "Bearer s3cret"}
        with client.websocket_connect("/ws", headers=bearer) as ws:
            assert ws.receive_json()["type"] == "ready"
