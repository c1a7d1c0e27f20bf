"""Scoring streamed finals against a script of recordings: word errors and failure events.

A *stream* is a list of recordings, each followed by a pause. Word errors are counted over the
whole stream: all finals in order against all texts in order (so that a one-shot segment that
spans two recordings costs nothing extra). For the failure events (see issue 15) every final is
assigned to the recording its time span overlaps most, and they are counted per recording:

- *repeat*: the recording's finals insert a run of at least :data:`PHRASE` words that they
  also hold elsewhere (a sentence said once and transcribed twice, a loop);
- *empty final on speech*: a final without text whose span overlaps a recording;
- *lost utterance*: a recording that no final with text covers.

Texts are normalised with Whisper's English normaliser (casing, punctuation, numbers), or, for
other languages, lower-cased with punctuation removed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import jiwer
import numpy as np
import numpy.typing as npt

from realtime_stt.engine.protocol import Final

RATE = 16_000
PHRASE = 3
"""Words in a phrase whose repetition counts as a repeat."""


@dataclass(frozen=True, slots=True)
class Stream:
    """Recordings joined with pauses: the audio, each recording's sample span and text."""

    audio: npt.NDArray[np.int16]
    spans: tuple[tuple[int, int], ...]
    texts: tuple[str, ...]


@dataclass
class Score:
    """Errors and failure events of one transcription of a stream."""

    words: int = 0
    errors: int = 0
    repeats: list[str] = field(default_factory=list)
    empty_on_speech: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)


def build_stream(items: Sequence[tuple[npt.NDArray[np.int16], str]], gap_s: float) -> Stream:
    """The recordings one after another, each followed by ``gap_s`` of digital silence."""
    gap = np.zeros(int(gap_s * RATE), dtype=np.int16)
    parts: list[npt.NDArray[np.int16]] = []
    spans: list[tuple[int, int]] = []
    cursor = 0
    for audio, _ in items:
        spans.append((cursor, cursor + audio.size))
        parts += [audio, gap]
        cursor += audio.size + gap.size
    return Stream(np.concatenate(parts), tuple(spans), tuple(text for _, text in items))


def plain_normaliser(text: str) -> str:
    """Lower case, punctuation removed (for languages without Whisper's normaliser)."""
    return " ".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


def word_errors(reference: str, hypothesis: str) -> int:
    """Substitutions, deletions and insertions between two normalised texts."""
    if not reference.split():
        return len(hypothesis.split())
    if not hypothesis.split():
        return len(reference.split())
    out = jiwer.process_words(reference, hypothesis)
    return int(out.substitutions + out.deletions + out.insertions)


def repeated_phrases(reference: str, hypothesis: str) -> list[str]:
    """Runs of at least :data:`PHRASE` words the hypothesis inserts (against the reference)
    that it also holds elsewhere: a phrase transcribed again. A word misheard the same way
    each time it is said ("color" for "caller") is a substitution, not a repeat."""
    words = hypothesis.split()
    if not reference.split() or len(words) < 2 * PHRASE:
        return []
    found = []
    for chunk in jiwer.process_words(reference, hypothesis).alignments[0]:
        inserted = words[chunk.hyp_start_idx : chunk.hyp_end_idx]
        if chunk.type != "insert" or len(inserted) < PHRASE:
            continue
        rest = [*words[: chunk.hyp_start_idx], "|", *words[chunk.hyp_end_idx :]]
        for i in range(len(inserted) - PHRASE + 1):
            gram = inserted[i : i + PHRASE]
            if any(rest[j : j + PHRASE] == gram for j in range(len(rest) - PHRASE + 1)):
                found.append(" ".join(inserted))
                break
    return found


def score_finals(stream: Stream, finals: Sequence[Final], normalise: Callable[[str], str]) -> Score:
    """Score finals in time order: errors over the whole stream, events recording by
    recording (see the module docstring)."""
    assigned: list[list[Final]] = [[] for _ in stream.spans]
    score = Score()
    for final in finals:
        start, end = final.start_s * RATE, final.end_s * RATE
        overlaps = [min(end, b) - max(start, a) for a, b in stream.spans]
        best = int(np.argmax(overlaps))
        if overlaps[best] <= 0:
            continue  # a final in a pause: scored nowhere (the one-shot pass is scored whole)
        assigned[best].append(final)
        if not final.text.strip():
            score.empty_on_speech.append(f"{best}: {final.start_s:.1f}-{final.end_s:.1f} s")
    everything = normalise(" ".join(stream.texts))
    score.words = len(everything.split())
    score.errors = word_errors(everything, normalise(" ".join(f.text for f in finals)))
    for index, (text, mine) in enumerate(zip(stream.texts, assigned, strict=True)):
        reference = normalise(text)
        hypothesis = normalise(" ".join(f.text for f in mine))
        score.repeats += [f"{index}: {p}" for p in repeated_phrases(reference, hypothesis)]
        if not hypothesis.split():
            score.lost.append(f"{index}: {text[:60]}")
    return score
