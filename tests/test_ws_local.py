"""``/ws`` through the real ASGI stack with the real local model on synthesised speech: what the
local engine hears. (The session's wire behaviour on the scripted engine is in ``test_ws``.)"""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi.testclient import TestClient
from websockets.sync.client import connect

from tests.conftest import LiveServer, silence, speech
from tests.wsutil import finals, finish, stream, transcript, until_closed

ServerFactory = Callable[..., LiveServer]


class TestSessionFlow:
    def test_ready_then_finals_then_close_1000(self, model_client: TestClient) -> None:
        """A session announces itself, transcribes English speech and closes 1000 after ``end``."""
        with model_client.websocket_connect("/ws?language=en") as ws:
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

    def test_timestamps_are_monotonic_and_within_the_audio(self, model_client: TestClient) -> None:
        """Every ts lies within the audio sent, and finals follow each other in time."""
        audio = speech("en_fox") + silence(0.5)
        with model_client.websocket_connect("/ws?language=en") as ws:
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
        self, model_client: TestClient
    ) -> None:
        """Audio that stops mid-speech is still finalized before the 1000 close."""
        with model_client.websocket_connect("/ws?language=en") as ws:
            ws.receive_json()
            stream(ws, speech("en_weather"))
            messages, code = finish(ws)
        assert code == 1000
        assert "sunny" in transcript(messages)

    def test_flush_finalizes_the_utterance_in_progress(self, model_client: TestClient) -> None:
        """``flush`` produces the final now, without waiting for silence or ``end``."""
        with model_client.websocket_connect("/ws?language=en") as ws:
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

    def test_resampled_input_rates_are_transcribed(self, model_client: TestClient) -> None:
        """Audio at 48 kHz, resampled on the server, transcribes like the 16 kHz original."""
        import numpy as np
        import soxr

        original = np.frombuffer(speech("en_weather"), dtype="<i2")
        upsampled = soxr.resample(original, 16000, 48000).astype("<i2").tobytes()
        with model_client.websocket_connect("/ws?language=en&sample_rate=48000") as ws:
            assert ws.receive_json()["sample_rate"] == 48000
            stream(ws, upsampled, chunk=9600)
            messages, _ = finish(ws)
        assert "sunny" in transcript(messages)
        assert finals(messages)[-1]["ts"]["end_s"] <= len(upsampled) / 96000 + 1e-6


class TestPartials:
    def test_speech_still_coming_gets_partials_before_its_final(
        self, model_server_factory: ServerFactory
    ) -> None:
        """While an utterance is still being spoken the client gets partials for it, and its one
        final comes after them."""
        server = model_server_factory()
        audio = speech("en_long")[: 32000 * 6]
        cut = 32000 * 3  # three seconds in, mid-speech: the client stops until a partial comes
        with connect(server.ws_url + "?language=en") as ws:
            assert json.loads(ws.recv(timeout=30))["type"] == "ready"
            for start in range(0, cut, 3200):
                ws.send(audio[start : start + 3200])
            messages: list[dict[str, object]] = []
            while not any(m["type"] == "partial" for m in messages):
                messages.append(json.loads(ws.recv(timeout=30)))
            for start in range(cut, len(audio), 3200):
                ws.send(audio[start : start + 3200])
            ws.send(silence(1.0))
            ws.send(json.dumps({"type": "end"}))
            rest, code = until_closed(ws)
        messages += rest
        assert code == 1000
        segment = next(m["segment_id"] for m in messages if m["type"] == "partial")
        kinds = [m["type"] for m in messages if m.get("segment_id") == segment]
        assert kinds[0] == "speech_started"
        assert kinds.count("final") == 1
        assert kinds.index("partial") < kinds.index("final")
