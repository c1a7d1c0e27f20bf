"""One Whisper decode of one utterance: encode the real audio length, generate, align words.

Stock faster-whisper pads every call to a 30-second window, so a 2-second partial costs as much as
a 30-second decode (0.7-1.0 s of encoder time on two cores). :class:`UtteranceDecoder` instead
encodes only the utterance's own frames plus a short silent tail (:data:`TAIL_PAD_FRAMES`),
decodes with ``<|notimestamps|>`` and a token cap proportional to the audio length (which stops
the repetition loops that unpadded input can otherwise fall into), and takes word times from
CTranslate2's cross-attention alignment. It uses faster-whisper's public model, tokenizer and
feature extractor; only the padding step is ours.

A final can also be given a :class:`LeadIn`: the last words of the previous final with their audio.
That audio is encoded in front of the utterance and its words are forced as the decoder's prefix,
so the model hears the utterance in context, as a one-shot pass over the whole recording does,
and only generates the new words. On the ``bench.local_streaming --long`` script (one core,
Whisper base int8) this took the finals from 12 to 7 word errors out of 151 for 1.14x the cost
(0.50 -> 0.57 s per final), fixing errors such as "water" -> "wager" and "weekdays" -> "weekday".
In the real-time benchmark (one stream, two workers) it raised the final latency median from 0.86
to 1.07 s, so the session uses it only when ``StreamingOptions.lead_in`` is set.

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
MAX_SAMPLES = MAX_FRAMES * HOP
CONTEXT_TOKENS = 64
"""At most this many tokens of the previous final condition the next decode."""
LEAD_IN_S = 1.5
"""A lead-in holds the previous final's words that start in its last 1.5 s. Measured on the
``--long`` script (word errors / 151, seconds per final on one core; 0 s: 12 errors, 0.50 s):
1.0 s: 20, 0.66 s (one final repeated a whole earlier sentence); 1.5 s: 7, 0.57 s; 2.0 s: 9,
0.67 s; 2.5 s: 8, 0.76 s; the whole previous utterance: 8, 0.94 s."""
LEAD_IN_GAP_S = 0.2
"""Audio kept after the previous utterance's end; the rest of the pause is left out (measured:
0.5 s gave 10 errors instead of 7 and cost 0.05 s more at ``LEAD_IN_S``)."""
LEAD_IN_MARGIN_S = 0.1
"""Audio kept before the lead-in's first word, so its first phoneme is not clipped."""
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
class LeadIn:
    """The end of the previous utterance, decoded again in front of the next one.

    Attributes:
        audio: 16 kHz mono float32 samples: the words of ``text`` and the pause after them.
        text: the previous final's last words, as transcribed; forced as the decoder's prefix.
    """

    audio: npt.NDArray[np.float32]
    text: str


def lead_in(
    result: Decoded, audio: npt.NDArray[np.float32], after: npt.NDArray[np.float32]
) -> LeadIn | None:
    """The lead-in for the utterance after one whose final is ``result``.

    ``audio`` is the decoded utterance (``result``'s word times are relative to it) and ``after``
    the audio that followed it; only its first :data:`LEAD_IN_GAP_S` is kept. None when
    ``result`` has no timed words.
    """
    if not result.words:
        return None
    cut = audio.size / SAMPLE_RATE - LEAD_IN_S
    words = [w for w in result.words if w.start_s >= cut] or [result.words[-1]]
    start = max(0, round((words[0].start_s - LEAD_IN_MARGIN_S) * SAMPLE_RATE))
    gap = after[: round(LEAD_IN_GAP_S * SAMPLE_RATE)]
    text = "".join(w.word for w in words).strip()
    return LeadIn(np.concatenate([audio[start:], gap]), text) if text else None


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
        lead: LeadIn | None = None,
    ) -> Decoded:
        """Transcribe ``audio`` (16 kHz mono float32, at most 30 s); blocks for the inference.

        ``context`` is the text said just before (the previous final): conditioning on it keeps
        names and spelling consistent across utterances, as Whisper does across its windows.
        With ``lead``, ``context`` is ignored: the lead-in's audio is decoded in front of
        ``audio`` with its text as a forced prefix. The result holds only the words after the
        prefix, with times still relative to the start of ``audio``.
        """
        seconds = len(audio) / SAMPLE_RATE
        prefix: list[int] = []
        if lead is not None and lead.audio.size + audio.size + TAIL_PAD_FRAMES * HOP > MAX_SAMPLES:
            lead = None  # no room in the 30-s window
        if lead is not None:
            prefix = self._tokenizer.encode(" " + lead.text)
            audio = np.concatenate([lead.audio, audio])
        features = self._model.feature_extractor(audio)
        frames = min(MAX_FRAMES, features.shape[-1] - features.shape[-1] % 2)
        features = features[:, :frames]
        padded = min(MAX_FRAMES, frames + TAIL_PAD_FRAMES)
        if padded > frames:
            features = np.pad(features, ((0, 0), (0, padded - frames)))
        encoder_output = self._model.encode(features)
        budget = int(options.tokens_per_second * seconds) + options.extra_tokens
        prompt = self._prompt + prefix if lead is not None else self._prompt_for(context)
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
        # The returned sequence starts with the forced prefix; the score covers only the rest.
        tokens = [t for t in result.sequences_ids[0][len(prefix) :] if t < self._tokenizer.eot]
        text = self._tokenizer.decode(tokens).strip()
        avg_logprob = float(result.scores[0]) * len(tokens) / (len(tokens) + 1)
        ratio = _compression_ratio(text)
        no_speech = float(result.no_speech_prob)
        rejected = (
            no_speech > options.no_speech_threshold and avg_logprob < options.logprob_threshold
        ) or ratio > options.max_compression_ratio
        if rejected or not text:
            return Decoded("", (), no_speech, avg_logprob, ratio)
        timed = self._align(prefix, tokens, encoder_output, max(frames, 2)) if words else ()
        if lead is not None:
            shift = lead.audio.size / SAMPLE_RATE
            timed = tuple(
                DecodedWord(
                    w.word, max(0.0, w.start_s - shift), max(0.0, w.end_s - shift), w.probability
                )
                for w in timed
            )
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
        self, prefix: list[int], tokens: list[int], encoder_output: Any, num_frames: int
    ) -> tuple[DecodedWord, ...]:
        """Word times of ``tokens``; a forced ``prefix`` is aligned with them, then dropped."""
        alignment = self._model.find_alignment(
            self._tokenizer, [prefix + tokens], encoder_output, num_frames
        )
        if not alignment or not alignment[0]:
            return ()
        words, seen = [], 0
        for word in alignment[0]:
            seen += len(word["tokens"])
            if seen > len(prefix):
                words.append(word)
        merge_punctuations(words, PREPEND_PUNCTUATION, APPEND_PUNCTUATION)
        return tuple(
            DecodedWord(w["word"], float(w["start"]), float(w["end"]), float(w["probability"]))
            for w in words
            if w["word"].strip()
        )


def _compression_ratio(text: str) -> float:
    data = text.encode()
    return len(data) / len(zlib.compress(data)) if data else 0.0
