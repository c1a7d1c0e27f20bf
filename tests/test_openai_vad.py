"""Our VAD for client commits: the batched Silero model scores each stream exactly as the local
engine's model scores it alone, and the OpenAI engine loads without Whisper."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from realtime_stt.local.vad import StreamingVad
from realtime_stt.openai_engine.scoring import END, FAILED, Scored, ScoringLane, ScoringThread
from realtime_stt.openai_engine.vad_batch import GATE_RMS, BatchVad, LaneVad, batched_model
from tests.conftest import speech

NAMES = ("en_weather", "sv_city", "en_fox")


def _audio(name: str) -> np.ndarray:
    return np.frombuffer(speech(name), dtype="<i2").astype(np.float32) / 32768.0


def test_streams_scored_together_match_each_scored_alone() -> None:
    """Three recordings in uneven chunks, scored in one batch per round, give the probabilities
    the original model gives each recording on its own (the batched graph is in use)."""
    session = batched_model()
    assert session is not None
    recordings = [_audio(name)[: 16_000 * 3] for name in NAMES]
    alone = [StreamingVad().process(audio) for audio in recordings]
    lanes = [LaneVad() for _ in recordings]
    vad = BatchVad(session)
    got: list[list[np.ndarray]] = [[] for _ in recordings]
    sizes = (1600, 700, 3200)  # each stream's own chunking; rounds mix partial frames
    positions = [0, 0, 0]
    while any(p < r.size for p, r in zip(positions, recordings, strict=True)):
        work = []
        for i, (lane, audio) in enumerate(zip(lanes, recordings, strict=True)):
            chunk = audio[positions[i] : positions[i] + sizes[i]]
            positions[i] += sizes[i]
            work.append((lane, chunk))
        for i, probs in enumerate(vad.score(work)):
            got[i].append(probs)
    for expected, pieces in zip(alone, got, strict=True):
        scored = np.concatenate(pieces)
        assert scored.size == expected.size
        np.testing.assert_allclose(scored, expected, atol=1e-5)
        assert expected.max() > 0.9  # real speech was heard


def test_the_convolutions_as_products_score_as_the_original_model() -> None:
    """The rewrite that runs the encoder's convolutions as matrix products keeps no encoder
    convolution in the graph, and scores real speech as the original model does (to 1e-5)."""
    import onnx

    from realtime_stt.local.vad import model_path
    from realtime_stt.openai_engine.vad_batch import _session
    from realtime_stt.openai_engine.vad_graph import (
        convolutions_as_products,
        streams_on_batch_axis,
    )

    model = onnx.load(str(model_path()))
    assert streams_on_batch_axis(model)
    convolutions_as_products(model)
    convolutions = [node for node in model.graph.node if node.op_type == "Conv"]
    assert [node.name for node in convolutions] == ["/decoder/conv1d/Conv"]
    audio = _audio("sv_city")[: 16_000 * 3]
    [probs] = BatchVad(_session(model.SerializeToString())).score([(LaneVad(), audio)])
    expected = StreamingVad().process(audio)
    np.testing.assert_allclose(probs, expected, atol=1e-5)
    assert expected.max() > 0.9


def test_without_the_batched_model_each_stream_is_scored_alone() -> None:
    """The fallback (no batched graph) gives the same probabilities through StreamingVad."""
    audio = _audio("en_weather")[:16_000]
    [probs] = BatchVad(None).score([(LaneVad(), audio)])
    np.testing.assert_allclose(probs, StreamingVad().process(audio), atol=1e-6)


def test_the_openai_engine_imports_without_whisper() -> None:
    """Importing the OpenAI engine (and its endpointer) loads neither faster-whisper nor
    CTranslate2, so an install that only proxies to OpenAI needs no Whisper runtime."""
    code = (
        "import sys, realtime_stt.openai_engine, realtime_stt.openai_engine.turns\n"
        "from realtime_stt.openai_engine.vad_batch import batched_model\n"
        "assert batched_model() is not None\n"
        "heavy = ('faster_whisper', 'ctranslate2')\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in heavy]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


class _CountingSession:
    """Wraps the batched model, counting the frames it is asked to score."""

    def __init__(self, session: object) -> None:
        self._session = session
        self.frames = 0

    def run(self, names: object, feeds: dict[str, np.ndarray]) -> object:
        self.frames += feeds["input"].shape[0]
        return self._session.run(names, feeds)  # type: ignore[attr-defined]


def test_frames_under_the_gate_are_silence_without_running_the_model() -> None:
    """A second of -70 dBFS noise scores 0 with no model call; speech after it is still heard."""
    session = _CountingSession(batched_model())
    vad = BatchVad(session, GATE_RMS)
    lane = LaneVad()
    quiet = np.random.default_rng(1).normal(0, 10 ** (-70 / 20), 16_000).astype(np.float32)
    [probs] = vad.score([(lane, quiet)])
    assert probs.size == 31
    assert not probs.any()
    assert session.frames == 0
    [probs] = vad.score([(lane, _audio("en_weather")[:16_000])])
    assert session.frames > 0
    assert probs.max() > 0.9


def test_a_lane_woken_again_after_its_end_is_skipped_and_a_broken_lane_fails_alone() -> None:
    """The scoring thread's rounds: a lane woken while its end was already taken yields nothing
    (no resampling after the last input), and one lane that cannot be resampled fails alone
    while the others in its round are scored."""
    thread = ScoringThread()
    try:
        delivered: list[Scored] = []
        # lanes of a thread that is not started: the test runs its rounds itself
        ended, healthy, broken = (ScoringLane(thread, delivered.append) for _ in range(3))
        pcm = speech("en_weather")[:6400]
        for lane in (ended, healthy, broken):
            lane.submit(pcm)
        ended.mark(END)
        vad = BatchVad(batched_model(), GATE_RMS)
        first = dict(thread._round(vad, [ended, healthy]))
        assert first[ended][0].marker is END
        assert first[healthy][0].probs.size == 6
        assert thread._round(vad, [ended]) == []  # woken again: nothing left, no error

        class Exploding:
            def resample_chunk(self, *_: object, **__: object) -> None:
                raise RuntimeError("boom")

        broken._inbox.clear()
        broken.submit(pcm)
        broken._resampler = Exploding()  # not a soxr stream, but duck-typed as one
        healthy.submit(pcm)
        second = dict(thread._round(vad, [broken, healthy]))
        assert second[broken][0].marker is FAILED
        assert second[healthy][0].marker is None
        assert second[healthy][0].probs.size == 6
    finally:
        thread.close()
