"""Second attempts for a decode that invented words or lost them.

Decoding a short utterance followed by silence, Whisper sometimes runs past the speech: it
transcribes the utterance again, loops, or produces a loop that the compression-ratio gate then
drops, leaving an utterance with speech without any text. :func:`recover` checks each result of
a first decode pass and, when it is not acceptable, decodes the utterance again in the ways
:data:`ATTEMPTS` lists, keeping the first acceptable result. A result is acceptable when:

- it has text (the utterance was opened by the VAD, so it held speech), and
- it holds no repeat (``local.repetition``), and
- the decoder did not run past the speech: no word is aligned after the end of the audio, and
- it skipped none: no stretch of :data:`MAX_WORD_SPAN_S` or more passes without a word starting
  (a decoder that skips a clause aligns the word after it over the clause's audio), and
- it is no echo of its text prompt (:func:`echoes`).

If no attempt gives an acceptable result, an utterance of :data:`MIN_SPLIT_S` or more is split
at its quietest point and its halves are decoded on their own.

Whatever happens, no returned result holds a word aligned after the end of its audio (the
decoder aligns over the silent tail it appends, so invented words land there), and no repeat:
when no attempt and no split gives an acceptable result, the first one with text is cut where
its repeat begins.
"""

from __future__ import annotations

import dataclasses
from itertools import pairwise
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from realtime_stt.local.repetition import normalise, repeat_start

if TYPE_CHECKING:
    from collections.abc import Sequence

    from realtime_stt.local.decoder import Decoded, DecodeOptions, DecodeRequest

SAMPLE_RATE = 16_000
ATTEMPTS: tuple[tuple[int, float, bool], ...] = ((1000, 0.0, True), (1000, 0.0, False))
"""(silent tail in feature frames, temperature, with the text context) of each second attempt,
in order. A 10-s silent tail at temperature 0 decoded every repeat and every empty final of the
telephone prompts in ``bench.natural_speech`` correctly but one, as a padded 30-s window did at
twice the cost; shorter tails looped more, and sampling (temperature 0.4-0.8) lost the empty ones
again. The last attempt drops the previous final's text, which can make the decoder skip the
start of an utterance ("Asterisk is an open source ... For more information" decoded as "For
more information" after "from the PBX.")."""
MAX_WORD_SPAN_S = 3.0
"""No word takes this long from its start to the next word's start inside an utterance, whose
pauses are shorter than the endpointer's silence: on the natural corpus the longest was 1.8 s,
and a skipped clause left 7.7 s to one word. The audio's start and end bound the first and the
last span."""
MIN_SPLIT_S = 6.0
"""An utterance at least this long that no attempt decodes acceptably is split in two at its
quietest point, and the halves are decoded (and recovered) on their own."""


class Decoder(Protocol):
    """What :func:`recover` needs of ``UtteranceDecoder``."""

    def decode_batch(
        self, requests: Sequence[DecodeRequest], options: DecodeOptions, *, words: bool
    ) -> list[Decoded]: ...

    def decode_pass(
        self,
        requests: Sequence[DecodeRequest],
        options: DecodeOptions,
        *,
        words: bool,
        tail_frames: int = ...,
        temperature: float = ...,
    ) -> list[Decoded]: ...


def recover(
    decoder: Decoder,
    request: DecodeRequest,
    options: DecodeOptions,
    result: Decoded,
    *,
    words: bool,
) -> Decoded:
    """``result``, or a better decode of ``request`` (see the module docstring); blocks."""
    seconds = request.audio.size / SAMPLE_RATE
    trimmed = within_audio(result, seconds)
    if not options.recover or (
        trimmed is result and acceptable(result, seconds) and not echoes(result, request.context)
    ):
        return without_repeat(trimmed)
    candidates = [trimmed]
    for tail_frames, temperature, with_context in ATTEMPTS:
        attempt = request if with_context else dataclasses.replace(request, context="")
        if attempt is not request and not request.context:
            continue
        (again,) = decoder.decode_pass(
            [attempt], options, words=words, tail_frames=tail_frames, temperature=temperature
        )
        within = within_audio(again, seconds)
        if within is again and acceptable(again, seconds) and not echoes(again, attempt.context):
            return again
        candidates.append(within)
    fallback = next(
        (c for c in candidates if acceptable(c, seconds) and not echoes(c, request.context)),
        None,
    )
    if fallback is not None:
        return fallback
    whole = [c for c in candidates if c.text and repeat_start(c.text.split()) is None]
    if whole:  # each skips a stretch, or holds a sound that is no word: the best covering
        return min(whole, key=lambda c: widest_gap(c, seconds))
    if seconds >= MIN_SPLIT_S:
        return _split(decoder, request, options, words=words)
    return without_repeat(next((c for c in candidates if c.text), trimmed))


def _split(
    decoder: Decoder, request: DecodeRequest, options: DecodeOptions, *, words: bool
) -> Decoded:
    """Decode the two halves of ``request``, cut at the quietest point of its middle half."""
    audio = request.audio
    cut = quietest_point(audio[: audio.size * 3 // 4], audio.size // 4)
    halves = [
        dataclasses.replace(request, audio=audio[:cut]),
        dataclasses.replace(request, audio=audio[cut:]),
    ]
    left, right = decoder.decode_batch(halves, options, words=words)
    offset = cut / SAMPLE_RATE
    shifted = tuple(
        dataclasses.replace(w, start_s=w.start_s + offset, end_s=w.end_s + offset)
        for w in right.words
    )
    text = " ".join(t for t in (left.text, right.text) if t)
    return dataclasses.replace(left, text=text, words=left.words + shifted)


def acceptable(result: Decoded, seconds: float) -> bool:
    """True when ``result`` (of ``seconds`` of audio) has text, no repeat and no skipped
    stretch (see :func:`skips_speech`)."""
    return (
        bool(result.text)
        and repeat_start(result.text.split()) is None
        and not skips_speech(result, seconds)
    )


ECHO_MIN_WORDS = 3
"""An echo is a result that is its prompt's last words read back, this many words at least."""


def echoes(result: Decoded, context: str) -> bool:
    """True when ``result`` only reads back the end of its text prompt (``context``, the previous
    final), as Whisper sometimes does instead of transcribing the audio (seen on Swedish: a
    sentence's final was the sentence before it). Such a result is decoded again without the
    prompt; a sentence really said twice decodes the same without it and is kept then."""
    said = [normalise(word) for word in result.text.split()]
    before = [normalise(word) for word in context.split()]
    return len(said) >= ECHO_MIN_WORDS and before[-len(said) :] == said


def skips_speech(result: Decoded, seconds: float) -> bool:
    """True when :data:`MAX_WORD_SPAN_S` or more of ``result``'s audio (``seconds`` long) pass
    without a word starting (see :func:`widest_gap`)."""
    return widest_gap(result, seconds) >= MAX_WORD_SPAN_S


def widest_gap(result: Decoded, seconds: float) -> float:
    """The longest time between two word starts of ``result``, counting from the audio's start
    and to its end (``seconds``); 0 without word timings."""
    if not result.words:
        return 0.0
    starts = [0.0, *(w.start_s for w in result.words), seconds]
    return max(b - a for a, b in pairwise(starts))


def within_audio(result: Decoded, seconds: float) -> Decoded:
    """``result`` without the words aligned to start at or after ``seconds`` (the audio's end);
    unchanged when it has no word timings."""
    if not result.words or result.words[-1].start_s < seconds:
        return result
    kept = tuple(w for w in result.words if w.start_s < seconds)
    return _with_words(result, kept)


def without_repeat(result: Decoded) -> Decoded:
    """``result`` cut where its first repeat begins (unchanged without one)."""
    if result.words:
        start = repeat_start([w.word for w in result.words])
        return result if start is None else _with_words(result, result.words[:start])
    words = result.text.split()
    start = repeat_start(words)
    if start is None:
        return result
    return dataclasses.replace(result, text=" ".join(words[:start]))


def _with_words(result: Decoded, kept: Sequence[object]) -> Decoded:
    words = tuple(kept)
    text = "".join(getattr(w, "word", "") for w in words).strip()
    if not any(normalise(part) for part in text.split()):
        return dataclasses.replace(result, text="", words=(), tokens=())
    return dataclasses.replace(result, text=text, words=words)  # type: ignore[arg-type]


QUIET_WINDOW = 1600
"""Samples (0.1 s) over which :func:`quietest_point` measures loudness."""


def quietest_point(audio: npt.NDArray[np.float32], search_from: int) -> int:
    """The middle of the quietest 0.1-s window of ``audio[search_from:]`` (a sample index of
    ``audio``), where a cut is least likely to split a word; ``audio.size`` when too short."""
    tail = audio[search_from:]
    if tail.size < QUIET_WINDOW:
        return int(audio.size)
    energy = np.concatenate([[0.0], np.cumsum(tail.astype(np.float64) ** 2)])
    power = energy[QUIET_WINDOW:] - energy[:-QUIET_WINDOW]
    return search_from + int(np.argmin(power)) + QUIET_WINDOW // 2
