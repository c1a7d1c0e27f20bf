"""Properties that hold for any input (hypothesis): chunking and resampling."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from realtime_stt.audio import SampleFramer, StreamResampler
from realtime_stt.engine import protocol as ev
from realtime_stt.session_core import PushAudio, Send, SessionCore
from realtime_stt.wire import Final

AUDIO = np.random.default_rng(3).integers(-32768, 32767, 4000, dtype=np.int16).tobytes()


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


class TestChunking:
    @given(st.lists(st.integers(0, len(AUDIO)), max_size=40))
    def test_any_chunking_yields_the_same_samples(self, cuts: list[int]) -> None:
        """However the bytes are cut into frames, the samples are the same, in order."""
        framer = SampleFramer()
        samples = np.concatenate([framer.feed(chunk) for chunk in split(AUDIO, cuts)])
        assert samples.tobytes() == AUDIO

    @given(
        st.lists(st.integers(0, len(AUDIO)), max_size=40),
        st.lists(st.tuples(st.floats(0, 0.2), st.floats(0, 0.2)), min_size=1, max_size=5),
    )
    def test_any_chunking_yields_the_same_timestamps(
        self, cuts: list[int], spans: list[tuple[float, float]]
    ) -> None:
        """With the same engine decisions, any chunking gives the same ts on the wire."""

        def run(chunks: list[bytes]) -> list[object]:
            core = SessionCore("s", 16000, 1 << 20, 100.0)
            pushed = 0
            for chunk in chunks:
                actions = core.receive_bytes(chunk)
                pushed += sum(a.samples.size for a in actions if isinstance(a, PushAudio))
            assert pushed == len(AUDIO) // 2
            wire: list[object] = []
            for segment, (start, length) in enumerate(spans):
                event = ev.Final(segment, "x", start, start + length)
                messages = [a.message for a in core.engine_event(event) if isinstance(a, Send)]
                wire += [m.ts for m in messages if isinstance(m, Final)]
            return wire

        assert run(split(AUDIO, cuts)) == run([AUDIO])


class TestResampler:
    @settings(deadline=None, max_examples=30)
    @given(
        st.sampled_from([8000, 11025, 22050, 44100, 48000]),
        st.sampled_from([16000, 24000]),
        st.lists(st.integers(1, 5000), min_size=1, max_size=20),
    )
    def test_output_length_matches_the_input_duration(
        self, rate_in: int, rate_out: int, chunk_sizes: list[int]
    ) -> None:
        """Streaming resampling keeps the duration, within one sample, for any chunking."""
        resampler = StreamResampler(rate_in, rate_out)
        total_in = sum(chunk_sizes)
        out = sum(resampler.process(np.zeros(size, dtype=np.int16)).size for size in chunk_sizes)
        out += resampler.finish().size
        assert abs(out - total_in * rate_out / rate_in) <= 1


class TestLevel:
    @given(st.lists(st.integers(-32768, 32767), min_size=1, max_size=500))
    def test_level_matches_the_float_definition(self, values: list[int]) -> None:
        """RMS in dBFS and peak agree with the floating-point definitions."""
        from realtime_stt.audio import level

        samples = np.array(values, dtype=np.int16)
        as_float = samples.astype(np.float64) / 32768
        measured = level(samples)
        assert measured.peak == np.max(np.abs(as_float))
        rms = float(np.sqrt(np.mean(as_float**2)))
        if rms == 0:
            assert measured.rms_dbfs == -np.inf
        else:
            assert measured.rms_dbfs == pytest.approx(20 * np.log10(rms), abs=1e-9)
