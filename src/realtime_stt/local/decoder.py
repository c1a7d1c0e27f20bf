"""One Whisper decode of one utterance: encode the real audio length, generate, align words.

Stock faster-whisper pads every call to a 30-second window, so a 2-second partial costs as much as
a 30-second decode (0.7-1.0 s of encoder time on two cores). :class:`UtteranceDecoder` instead
encodes only the utterance's own frames plus a short silent tail (:data:`TAIL_PAD_FRAMES`),
decodes with ``<|notimestamps|>`` and a token cap proportional to the audio length (which stops
the repetition loops that unpadded input can otherwise fall into), and takes word times from
CTranslate2's cross-attention alignment. It uses faster-whisper's public model, tokenizer and
feature extractor; only the padding step is ours.

Every method blocks for the length of an inference: call it from a worker thread.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_suppressed_tokens, merge_punctuations

SAMPLE_RATE = 16_000
HOP = 160
TAIL_PAD_FRAMES = 300
"""Three seconds of silence after the audio: without a silent tail the decoder does not know the
speech has ended and tends to repeat itself (measured: 3 of 6 test clips repeated with no tail,
none with this one; it costs about 0.05 s of encoder time)."""
MAX_FRAMES = 3000
CONTEXT_TOKENS = 64
"""At most this many tokens of the previous final condition the next decode."""
PREPEND_PUNCTUATION = "\"'“¿([{-"
APPEND_PUNCTUATION = "\"'.。,\uff0c!\uff01?\uff1f:\uff1a”)]}、"


@dataclass(frozen=True, slots=True)
class DecodedWord:
    """A word with times in seconds from the start of the decoded audio."""

    word: str
    start_s: float
    end_s: float
    probability: float


@dataclass(frozen=True, slots=True)
class Decoded:
    """The result of one decode.

    Attributes:
        text: the transcript, stripped; empty when the speech gate rejected it.
        words: word timings when requested, else empty.
        no_speech_prob: Whisper's probability that the window holds no speech.
        avg_logprob: mean token log-probability of the chosen hypothesis.
        compression_ratio: zlib ratio of the text; high values mean a repetition loop.
    """

    text: str
    words: tuple[DecodedWord, ...]
    no_speech_prob: float
    avg_logprob: float
    compression_ratio: float


@dataclass(frozen=True, slots=True)
class DecodeOptions:
    """Decoding knobs.

    Attributes:
        beam_size: 1 (greedy) for partials, larger for finals.
        tokens_per_second: token budget per second of audio, plus ``extra_tokens``.
        no_speech_threshold: with ``logprob_threshold``, the gate that drops hallucinated text.
        max_compression_ratio: text above this ratio is a loop and is dropped.
    """

    beam_size: int = 1
    tokens_per_second: float = 8.0
    extra_tokens: int = 10
    no_speech_threshold: float = 0.6
    logprob_threshold: float = -1.0
    max_compression_ratio: float = 2.4


class UtteranceDecoder:
    """Decodes utterances with a shared :class:`WhisperModel` (thread-safe, one per process)."""

    def __init__(self, model: WhisperModel, language: str) -> None:
        self.language = language
        self._model = model
        self._tokenizer = Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language
        )
        self._prompt: list[int] = model.get_prompt(self._tokenizer, [], without_timestamps=True)
        self._suppress = get_suppressed_tokens(self._tokenizer, [-1])

    def decode(
        self,
        audio: npt.NDArray[np.float32],
        options: DecodeOptions,
        *,
        words: bool,
        context: str = "",
    ) -> Decoded:
        """Transcribe ``audio`` (16 kHz mono float32, at most 30 s); blocks for the inference.

        ``context`` is the text said just before (the previous final): conditioning on it keeps
        names and spelling consistent across utterances, as Whisper does across its windows.
        """
        features = self._model.feature_extractor(audio)
        frames = min(MAX_FRAMES, features.shape[-1] - features.shape[-1] % 2)
        features = features[:, :frames]
        padded = min(MAX_FRAMES, frames + TAIL_PAD_FRAMES)
        if padded > frames:
            features = np.pad(features, ((0, 0), (0, padded - frames)))
        encoder_output = self._model.encode(features)
        seconds = len(audio) / SAMPLE_RATE
        budget = int(options.tokens_per_second * seconds) + options.extra_tokens
        prompt = self._prompt_for(context)
        max_length = min(len(prompt) + budget, self._model.max_length)
        result: Any = self._model.model.generate(
            encoder_output,
            [prompt],
            beam_size=options.beam_size,
            max_length=max_length,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self._suppress,
        )[0]
        tokens = [t for t in result.sequences_ids[0] if t < self._tokenizer.eot]
        text = self._tokenizer.decode(tokens).strip()
        avg_logprob = float(result.scores[0]) * len(tokens) / (len(tokens) + 1)
        ratio = _compression_ratio(text)
        no_speech = float(result.no_speech_prob)
        rejected = (
            no_speech > options.no_speech_threshold and avg_logprob < options.logprob_threshold
        ) or ratio > options.max_compression_ratio
        if rejected or not text:
            return Decoded("", (), no_speech, avg_logprob, ratio)
        timed = self._align(tokens, encoder_output, max(frames, 2)) if words else ()
        return Decoded(text, timed, no_speech, avg_logprob, ratio)

    def _prompt_for(self, context: str) -> list[int]:
        if not context.strip():
            return self._prompt
        previous = self._tokenizer.encode(" " + context.strip())[-CONTEXT_TOKENS:]
        prompt: list[int] = self._model.get_prompt(
            self._tokenizer, previous, without_timestamps=True
        )
        return prompt

    def _align(
        self, tokens: list[int], encoder_output: Any, num_frames: int
    ) -> tuple[DecodedWord, ...]:
        alignment = self._model.find_alignment(
            self._tokenizer, [tokens], encoder_output, num_frames
        )
        if not alignment or not alignment[0]:
            return ()
        words = alignment[0]
        merge_punctuations(words, PREPEND_PUNCTUATION, APPEND_PUNCTUATION)
        return tuple(
            DecodedWord(w["word"], float(w["start"]), float(w["end"]), float(w["probability"]))
            for w in words
            if w["word"].strip()
        )


def _compression_ratio(text: str) -> float:
    data = text.encode()
    return len(data) / len(zlib.compress(data)) if data else 0.0
