"""One Whisper decode of one utterance: encode the real audio length, generate, align words.

Stock faster-whisper pads every call to a 30-second window, so a 2-second partial costs as much as
a 30-second decode (0.7-1.0 s of encoder time on two cores). :class:`UtteranceDecoder` instead
encodes only the utterance's own frames plus a short silent tail (:data:`TAIL_PAD_FRAMES`),
decodes with ``<|notimestamps|>`` and a token cap proportional to the audio length (which stops
the repetition loops that unpadded input can otherwise fall into), and takes word times from
CTranslate2's cross-attention alignment, over the silent tail too, so that words the decoder
invents after the speech are seen as such. A result that repeats itself, ran past the audio,
skipped speech or came back empty is decoded again by ``local.recovery``. It uses
faster-whisper's public model, tokenizer and feature extractor; only the padding step is ours.

Every method blocks for the length of an inference: call it from a worker thread.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_suppressed_tokens, merge_punctuations

from realtime_stt.local.recovery import recover

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
        tokens: the token ids decoded, before any words were cut from the text (empty when the
            text is).
    """

    text: str
    words: tuple[DecodedWord, ...]
    no_speech_prob: float
    avg_logprob: float
    compression_ratio: float
    tokens: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class DecodeRequest:
    """One utterance to decode: 16 kHz mono float32 audio, and the text said just before it."""

    audio: npt.NDArray[np.float32]
    context: str = ""


@dataclass(frozen=True, slots=True)
class DecodeOptions:
    """Decoding knobs.

    Attributes:
        beam_size: 1 (greedy) for partials, larger for finals.
        tokens_per_second: token budget per second of audio, plus ``extra_tokens``.
        no_speech_threshold: with ``logprob_threshold``, the gate that drops hallucinated text.
        max_compression_ratio: text above this ratio is a loop and is dropped.
        recover: decode a result that repeats itself or came back empty again another way
            (``local.recovery``); without it such a result is only trimmed.
    """

    beam_size: int = 1
    tokens_per_second: float = 8.0
    extra_tokens: int = 10
    no_speech_threshold: float = 0.6
    logprob_threshold: float = -1.0
    max_compression_ratio: float = 2.4
    recover: bool = True


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
        return self.decode_batch([DecodeRequest(audio, context)], options, words=words)[0]

    def decode_batch(
        self, requests: Sequence[DecodeRequest], options: DecodeOptions, *, words: bool
    ) -> list[Decoded]:
        """Transcribe several utterances in one encoder and one decoder call; blocks.

        A batch costs less than its items one by one (two 4-s finals: about 20 % less on one
        thread). Every item is decoded as :meth:`decode` would, except that the shorter ones get
        a longer silent tail (the batch's width) and every context is cut to the shortest one's
        token count: CTranslate2 needs the start-of-transcript token at one position in a batch.

        With ``options.recover`` an item whose text repeats itself, or that came back empty, is
        decoded again another way (``local.recovery``); in any case no result holds a repeat
        (see ``local.repetition``) or a word aligned after the end of its audio.
        """
        decoded = self.decode_pass(requests, options, words=words)
        return [
            recover(self, request, options, result, words=words)
            for request, result in zip(requests, decoded, strict=True)
        ]

    def decode_pass(
        self,
        requests: Sequence[DecodeRequest],
        options: DecodeOptions,
        *,
        words: bool,
        tail_frames: int = TAIL_PAD_FRAMES,
        temperature: float = 0.0,
    ) -> list[Decoded]:
        """One encoder and one generate call for ``requests``: ``tail_frames`` of silence after
        the longest audio, greedy or beam search at temperature 0, else sampling at
        ``temperature``; the speech gate applied, words aligned when asked for."""
        features = [self._model.feature_extractor(r.audio) for r in requests]
        frames = [min(MAX_FRAMES, f.shape[-1] - f.shape[-1] % 2) for f in features]
        width = min(MAX_FRAMES, max(frames) + tail_frames)
        batch = np.stack(
            [
                np.pad(f[:, :n], ((0, 0), (0, width - n)))
                for f, n in zip(features, frames, strict=True)
            ]
        )
        encoder_output = self._model.encode(batch)
        budgets = [
            int(options.tokens_per_second * r.audio.size / SAMPLE_RATE) + options.extra_tokens
            for r in requests
        ]
        prompts = self._prompts_for([r.context for r in requests])
        max_length = min(len(prompts[0]) + max(budgets), self._model.max_length)
        search: dict[str, Any] = (
            {"beam_size": 1, "sampling_topk": 0, "sampling_temperature": temperature}
            if temperature > 0
            else {"beam_size": options.beam_size}
        )
        results: list[Any] = self._model.model.generate(
            encoder_output,
            prompts,
            max_length=max_length,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self._suppress,
            **search,
        )
        decoded: list[Decoded] = []
        for result, budget in zip(results, budgets, strict=True):
            tokens = [t for t in result.sequences_ids[0] if t < self._tokenizer.eot][:budget]
            text = self._tokenizer.decode(tokens).strip()
            avg_logprob = float(result.scores[0]) * len(tokens) / (len(tokens) + 1)
            ratio = _compression_ratio(text)
            no_speech = float(result.no_speech_prob)
            rejected = (
                no_speech > options.no_speech_threshold and avg_logprob < options.logprob_threshold
            ) or ratio > options.max_compression_ratio
            if rejected or not text:
                decoded.append(Decoded("", (), no_speech, avg_logprob, ratio))
            else:
                decoded.append(Decoded(text, (), no_speech, avg_logprob, ratio, tuple(tokens)))
        if words:
            # aligned over the silent tail too, so that words the decoder invented after the
            # speech land there (and are dropped by the recovery) instead of being squeezed in
            decoded = self._with_words(decoded, encoder_output, [width] * len(frames))
        return decoded

    def _prompts_for(self, contexts: Sequence[str]) -> list[list[int]]:
        previous = [
            self._tokenizer.encode(" " + c.strip())[-CONTEXT_TOKENS:] if c.strip() else []
            for c in contexts
        ]
        common = min(len(p) for p in previous)
        return [self._prompt_for(p[len(p) - common :]) for p in previous]

    def _with_words(
        self, decoded: list[Decoded], encoder_output: Any, frames: list[int]
    ) -> list[Decoded]:
        """Add word times to the items with text, aligning them all in one call."""
        if not any(d.tokens for d in decoded):
            return decoded
        # every batch item is aligned (an empty one aligns to nothing), so that the encoder
        # output is used as it is, on any device
        alignments = self._model.find_alignment(
            self._tokenizer,
            [list(d.tokens) for d in decoded],
            encoder_output,
            [max(n, 2) for n in frames],
        )
        for i, words in enumerate(alignments):
            if not decoded[i].tokens:
                continue
            merge_punctuations(words, PREPEND_PUNCTUATION, APPEND_PUNCTUATION)
            timed = tuple(
                DecodedWord(w["word"], float(w["start"]), float(w["end"]), float(w["probability"]))
                for w in words
                if w["word"].strip()
            )
            decoded[i] = dataclasses.replace(decoded[i], words=timed)
        return decoded

    def _prompt_for(self, previous: list[int]) -> list[int]:
        if not previous:
            return self._prompt
        prompt: list[int] = self._model.get_prompt(
            self._tokenizer, previous, without_timestamps=True
        )
        return prompt


def _compression_ratio(text: str) -> float:
    data = text.encode()
    return len(data) / len(zlib.compress(data)) if data else 0.0
