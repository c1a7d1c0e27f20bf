"""The pure parts of the local engine's recovery: repeats, cut points, word trimming, starts."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from realtime_stt.local.decoder import Decoded, DecodedWord, DecodeOptions, DecodeRequest
from realtime_stt.local.endpointer import Endpointer, UtteranceEnd, UtteranceStart
from realtime_stt.local.recovery import (
    echoes,
    quietest_point,
    recover,
    skips_speech,
    within_audio,
    without_repeat,
)
from realtime_stt.local.repetition import repeat_start
from realtime_stt.local.vad import FRAME


class TestRepeats:
    @pytest.mark.parametrize(
        ("text", "start"),
        [
            ("It was the age of wisdom. It was the age of wisdom.", 6),
            ("Agent login Agent login Agent login", 2),
            ("Slit Slit Slit Slit Sl", 1),
            ("Press 1 to switch to playback mode. Press 8 to start over. Press 1 to switch", 12),
        ],
    )
    def test_a_repeat_is_found_where_it_begins(self, text: str, start: int) -> None:
        """A span of four words said again, or a short span looping, is found at its second
        occurrence."""
        assert repeat_start(text.split()) == start

    @pytest.mark.parametrize(
        "text",
        [
            "no, no, no",
            "bye bye",
            "press 1 to record press 2 to play press 3 to stop",
            "the cat and the dog and the bird",
        ],
    )
    def test_what_people_say_twice_is_no_repeat(self, text: str) -> None:
        """Words said two or three times, and lists of parallel phrases, are not repeats."""
        assert repeat_start(text.split()) is None

    def test_a_repeat_is_cut_from_text_and_words(self) -> None:
        """Cutting a repeat keeps what was said once, with its word timings."""
        said = ["It", " was", " the", " age", " of", " wisdom."]
        words = tuple(DecodedWord(w, i * 0.3, i * 0.3 + 0.2, 0.9) for i, w in enumerate(said * 2))
        result = Decoded("".join(w.word for w in words).strip(), words, 0.0, -0.1, 1.5)
        cut = without_repeat(result)
        assert cut.text == "It was the age of wisdom."
        assert cut.words == words[:6]
        assert without_repeat(Decoded("Slit Slit Slit Slit", (), 0, 0, 1)).text == "Slit"


class TestWordsAfterTheAudio:
    def test_words_aligned_after_the_audio_are_dropped(self) -> None:
        """Words the decoder placed in the silent tail after the audio are not kept."""
        words = (
            DecodedWord(" Agent", 0.1, 0.5, 0.9),
            DecodedWord(" login.", 0.5, 1.2, 0.9),
            DecodedWord(" Agent", 1.6, 1.8, 0.5),
        )
        result = Decoded("Agent login. Agent", words, 0.0, -0.2, 1.0)
        assert within_audio(result, 1.5).text == "Agent login."
        assert within_audio(result, 2.0) is result
        assert within_audio(result, 0.05).text == ""


class TestSkippedSpeech:
    def test_a_word_stretched_over_seconds_of_audio_is_a_skip(self) -> None:
        """A decode that skipped a clause aligns the next word over the clause's audio (the
        first word of "For more information" over 7.7 s): that is a skip, as is speech left
        without a word at the start or the end; a normal pace of words is none."""

        def decoded(starts: list[float]) -> Decoded:
            words = tuple(DecodedWord(f" w{i}", s, s + 0.3, 0.9) for i, s in enumerate(starts))
            return Decoded(" ".join(f"w{i}" for i in range(len(starts))), words, 0.0, -0.2, 1.0)

        assert skips_speech(decoded([0.0, 7.74, 8.18, 9.16]), 13.0)
        assert skips_speech(decoded([3.5, 3.9]), 4.5)
        assert skips_speech(decoded([0.2, 0.6]), 4.0)
        assert not skips_speech(decoded([0.2, 0.6, 1.0, 2.8, 3.1]), 4.0)
        assert not skips_speech(Decoded("no timings", (), 0.0, -0.2, 1.0), 30.0)


class TestCutPoint:
    def test_the_cut_falls_in_the_quietest_stretch(self) -> None:
        """Among loud audio, the cut lands inside the one quiet tenth of a second."""
        rng = np.random.default_rng(1)
        audio = (rng.standard_normal(16_000 * 6) * 0.3).astype(np.float32)
        audio[70_000:72_000] *= 0.01
        cut = quietest_point(audio, 16_000 * 2)
        assert 70_000 <= cut <= 72_000
        assert quietest_point(audio[:1000], 0) == 1000


class TestSustainedStart:
    def test_a_run_just_under_the_threshold_opens_an_utterance(self) -> None:
        """Ten frames at 0.4 (under 0.5, over 0.35) open an utterance at their first frame
        with ``sustained_ms``; without it they open nothing."""
        probs = np.array([0.0] * 10 + [0.4] * 10 + [0.0] * 20, dtype=np.float32)
        plain = Endpointer(threshold=0.5, min_silence_ms=320, pad_ms=64)
        assert plain.feed(probs) == []
        sustained = Endpointer(threshold=0.5, min_silence_ms=320, pad_ms=64, sustained_ms=256)
        start, end = sustained.feed(probs)
        assert start == UtteranceStart(10 * FRAME - 1024)
        assert end == UtteranceEnd(20 * FRAME + 1024)

    def test_noise_under_the_band_opens_nothing(self) -> None:
        """Frames under threshold - 0.15 never count toward a sustained start."""
        endpointer = Endpointer(threshold=0.5, min_silence_ms=320, pad_ms=64, sustained_ms=256)
        assert endpointer.feed(np.full(100, 0.3, dtype=np.float32)) == []


class TestPromptEcho:
    def test_a_final_that_reads_back_its_prompt_is_an_echo(self) -> None:
        """A result that is the end of its prompt read back (three words or more) is an echo;
        a short answer that happens to end the prompt, or new words, are not."""
        prompt = "Vi åkte till fjällen för att åka skidor i fem dagar."
        assert echoes(Decoded("åka skidor i fem dagar", (), 0, 0, 1), prompt)
        assert echoes(Decoded(prompt, (), 0, 0, 1), prompt)
        assert not echoes(Decoded("dagar.", (), 0, 0, 1), prompt)
        assert not echoes(Decoded("Sedan åkte vi hem.", (), 0, 0, 1), prompt)
        assert not echoes(Decoded("Sedan åkte vi hem.", (), 0, 0, 1), "")

    def test_an_echo_is_decoded_again_without_the_prompt(self) -> None:
        """The first pass read its prompt back: recovery decodes the utterance again, and the
        attempt without the prompt, which transcribes the audio, is the final."""
        prompt = "Vi åkte till fjällen."
        said = "Sedan åkte vi hem."

        def decoded(text: str) -> Decoded:
            starts = [0.2 + 0.4 * i for i in range(len(text.split()))]
            words = tuple(
                DecodedWord(f" {w}", s, s + 0.3, 0.9)
                for w, s in zip(text.split(), starts, strict=True)
            )
            return Decoded(text, words, 0.0, -0.2, 1.2)

        class Decoder:
            def __init__(self) -> None:
                self.contexts: list[str] = []

            def decode_batch(
                self, requests: Sequence[DecodeRequest], options: DecodeOptions, *, words: bool
            ) -> list[Decoded]:
                raise AssertionError

            def decode_pass(
                self,
                requests: Sequence[DecodeRequest],
                options: DecodeOptions,
                *,
                words: bool,
                tail_frames: int = 0,
                temperature: float = 0.0,
            ) -> list[Decoded]:
                (request,) = requests
                self.contexts.append(request.context)
                return [decoded(prompt if request.context else said)]

        decoder = Decoder()
        request = DecodeRequest(np.zeros(32_000, dtype=np.float32), prompt)
        result = recover(decoder, request, DecodeOptions(), decoded(prompt), words=True)
        assert result.text == said
        assert decoder.contexts == [prompt, ""]
