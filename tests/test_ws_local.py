"""``/ws`` through the real ASGI stack with the real local model on synthesised speech."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.conftest import silence, speech
from tests.wsutil import collect, finals, finish, stream, transcript

ClientFactory = Callable[..., TestClient]


class TestSessionFlow:
    def test_ready_then_finals_then_close_1000(self, client: TestClient) -> None:
        """A session announces itself, transcribes English speech and closes 1000 after ``end``."""
        with client.websocket_connect("/ws?language=en") as ws:
            ready = ws.receive_json()
            stream(ws, speech("en_fox") + silence(1.0))
            messages, code = finish(ws)
        assert ready["type"] == "ready"
        assert ready["engine"] == "local"
        assert ready["language"] == "en"
        assert ready["sample_rate"] == 16000
        assert code == 1000
        text = transcript(messages)
        for word in ("quick", "brown", "fox", "lazy", "dog", "forest", "water"):
            assert word in text
        ids = [m["segment_id"] for m in finals(messages)]
        assert ids == list(range(len(ids)))

    def test_timestamps_are_monotonic_and_within_the_audio(self, client: TestClient) -> None:
        """Every ts lies within the audio sent, and finals follow each other in time."""
        audio = speech("en_fox") + silence(0.5)
        with client.websocket_connect("/ws?language=en") as ws:
            ws.receive_json()
            stream(ws, audio)
            messages, _ = finish(ws)
        duration = len(audio) / 32000
        last_end = 0.0
        for message in messages:
            if "ts" in message:
                ts = message["ts"]
                assert 0.0 <= ts["start_s"] <= ts["end_s"] <= duration + 1e-6
        for final in finals(messages):
            assert final["ts"]["start_s"] >= last_end - 1e-6
            last_end = final["ts"]["end_s"]
            for word in final["words"]:
                assert final["ts"]["start_s"] <= word["start_s"] <= word["end_s"]
                assert word["end_s"] <= final["ts"]["end_s"]

    def test_end_delivers_the_final_for_speech_without_trailing_silence(
        self, client: TestClient
    ) -> None:
        """Audio that stops mid-speech is still finalized before the 1000 close."""
        with client.websocket_connect("/ws?language=en") as ws:
            ws.receive_json()
            stream(ws, speech("en_weather"))
            messages, code = finish(ws)
        assert code == 1000
        assert "sunny" in transcript(messages)

    def test_flush_finalizes_the_utterance_in_progress(self, client: TestClient) -> None:
        """``flush`` produces the final now, without waiting for silence or ``end``."""
        with client.websocket_connect("/ws?language=en") as ws:
            ws.receive_json()
            stream(ws, speech("en_weather"))
            ws.send_text(json.dumps({"type": "flush"}))
            message = ws.receive_json()
            while message["type"] != "final":
                message = ws.receive_json()
            assert "sunny" in message["text"].lower()
            messages, code = finish(ws)
        assert code == 1000
        assert finals(messages) == []

    def test_odd_chunking_gives_the_same_transcript(self, client: TestClient) -> None:
        """Chunks of odd sizes that split samples give the same finals as even chunks."""
        audio = speech("en_weather") + silence(0.6)
        results = []
        for chunk in (3200, 777):
            with client.websocket_connect("/ws?language=en") as ws:
                ws.receive_json()
                stream(ws, audio, chunk=chunk)
                messages, _ = finish(ws)
            results.append([(m["text"], m["ts"]) for m in finals(messages)])
        assert results[0] == results[1]

    def test_resampled_input_rates_are_transcribed(self, client: TestClient) -> None:
        """Audio at 48 kHz, resampled on the server, transcribes like the 16 kHz original."""
        import numpy as np
        import soxr

        original = np.frombuffer(speech("en_weather"), dtype="<i2")
        upsampled = soxr.resample(original, 16000, 48000).astype("<i2").tobytes()
        with client.websocket_connect("/ws?language=en&sample_rate=48000") as ws:
            assert ws.receive_json()["sample_rate"] == 48000
            stream(ws, upsampled, chunk=9600)
            messages, _ = finish(ws)
        assert "sunny" in transcript(messages)
        assert finals(messages)[-1]["ts"]["end_s"] <= len(upsampled) / 96000 + 1e-6


class TestBadInput:
    def test_each_bad_frame_gets_an_error_and_the_session_goes_on(self, client: TestClient) -> None:
        """Malformed control frames are answered with errors and transcription continues."""
        with client.websocket_connect("/ws?language=en") as ws:
            ws.receive_json()
            ws.send_text("this is not json")
            assert ws.receive_json()["code"] == "invalid_json"
            ws.send_text('{"type": "rewind"}')
            assert ws.receive_json()["code"] == "unknown_message"
            ws.send_bytes(b"")
            stream(ws, speech("en_weather"))
            messages, code = finish(ws)
        assert code == 1000
        assert "sunny" in transcript(messages)

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

    def test_audio_after_end_is_reported_once(self, client: TestClient) -> None:
        """Audio sent after ``end`` is ignored with one audio_after_end error."""
        with client.websocket_connect("/ws?language=en") as ws:
            ws.receive_json()
            stream(ws, speech("en_weather"))
            ws.send_text('{"type": "end"}')
            ws.send_bytes(silence(0.1))
            ws.send_bytes(silence(0.1))
            messages, code = collect(ws)
        assert [m["code"] for m in messages if m["type"] == "error"] == ["audio_after_end"]
        assert code == 1000


class TestAccess:
    def test_sessions_beyond_the_limit_are_busy(self, client_factory: ClientFactory) -> None:
        """The session over MAX_SESSIONS gets busy and close 1013; the first one goes on."""
        client = client_factory(max_sessions=1)
        with client.websocket_connect("/ws?language=en") as first:
            first.receive_json()
            with client.websocket_connect("/ws") as second:
                messages, code = collect(second)
            assert messages[0]["code"] == "busy"
            assert code == 1013
            stream(first, speech("en_weather"))
            messages, code = finish(first)
        assert "sunny" in transcript(messages)

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


class TestPartials:
    def test_long_utterance_gives_stable_partials_before_its_final(
        self, client: TestClient
    ) -> None:
        """Speech streamed in real time yields partials for a segment before its final."""
        audio = speech("en_long")[: 32000 * 6] + silence(1.0)
        with client.websocket_connect("/ws?language=en") as ws:
            ws.receive_json()
            for start in range(0, len(audio), 3200):
                ws.send_bytes(audio[start : start + 3200])
                time.sleep(0.1)
            messages, _ = finish(ws)
        kinds = [m["type"] for m in messages if m.get("segment_id") == 0]
        assert kinds[0] == "speech_started"
        assert "partial" in kinds
        assert kinds.index("partial") < kinds.index("final")
        assert kinds.count("final") == 1
