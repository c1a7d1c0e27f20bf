"""What the one-shot pass hears that a live final cannot: each sentence decoded in other windows.

``python -m bench.local_windows`` speaks the WER corpus of :mod:`bench.local_wer` (40 sentences,
1.5-s pauses) and decodes every sentence with stock faster-whisper ``transcribe`` (beam 5,
temperature 0, word timestamps) in windows that differ only in what surrounds the sentence:

- *alone*: the sentence and its pauses, which is all that an utterance's final hears;
- *after N s of the past*: the window ends with the sentence and holds the N seconds before it,
  the most a live final could ever be given;
- *before N s of what follows*: the window starts with the sentence and holds the N seconds after
  it, which is where a one-shot pass over a recording usually finds a sentence.

The sentence's words are those whose middle falls within its own span, widened by half a pause
on each side (so a boundary in the middle of a pause). Errors are counted over the whole corpus
after Whisper's English normaliser, as in :mod:`bench.local_wer`. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import time

import jiwer
import numpy as np
from faster_whisper import WhisperModel
from whisper_normalizer.english import EnglishTextNormalizer

from bench.local_streaming import synthesise
from bench.local_wer import CORPUS
from realtime_stt.local.assets import bundled_model_dir

RATE = 16_000


def build(gap_s: float) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The corpus as one stream, and each sentence's (start, end) sample."""
    gap = np.zeros(int(gap_s * RATE), dtype=np.float32)
    parts: list[np.ndarray] = []
    spans: list[tuple[int, int]] = []
    cursor = 0
    for sentence in CORPUS:
        audio = synthesise(sentence).astype(np.float32) / 32768
        spans.append((cursor, cursor + audio.size))
        parts += [audio, gap]
        cursor += audio.size + gap.size
    return np.concatenate(parts), spans


def sentence_words(
    model: WhisperModel,
    audio: np.ndarray,
    window: tuple[int, int],
    span: tuple[int, int],
    half: int,
) -> str:
    """The words of ``span`` when ``window`` of ``audio`` is transcribed."""
    first, last = max(0, window[0]), min(audio.size, window[1])
    segments, _ = model.transcribe(
        audio[first:last], language="en", beam_size=5, temperature=0.0, word_timestamps=True
    )
    low, high = (span[0] - half - first) / RATE, (span[1] + half - first) / RATE
    words = [w.word for s in segments for w in s.words or () if low <= (w.start + w.end) / 2 < high]
    return "".join(words)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gap", type=float, default=1.5, help="silence after each sentence (s)")
    parser.add_argument("--seconds", default="6,24", help="context lengths to try")
    args = parser.parse_args()
    audio, spans = build(args.gap)
    half = int(args.gap / 2 * RATE)
    model = WhisperModel(str(bundled_model_dir()), device="cpu", compute_type="int8")
    norm = EnglishTextNormalizer()
    reference = norm(" ".join(CORPUS))
    windows: dict[str, list[tuple[int, int]]] = {"alone": [(s - half, e + half) for s, e in spans]}
    for seconds in [float(x) for x in args.seconds.split(",")]:
        n = int(seconds * RATE)
        windows[f"after {seconds:g} s of the past"] = [(s - half - n, e + half) for s, e in spans]
        windows[f"before {seconds:g} s of what follows"] = [
            (s - half, e + half + n) for s, e in spans
        ]
    words = len(reference.split())
    print(f"corpus: {len(CORPUS)} sentences, {words} words, {audio.size / RATE:.0f} s")
    print("| window around each sentence | word errors | WER | seconds |")
    print("|---|---|---|---|")
    for label, bounds in windows.items():
        started = time.perf_counter()
        text = " ".join(
            sentence_words(model, audio, window, span, half)
            for window, span in zip(bounds, spans, strict=True)
        )
        score = float(jiwer.wer(reference, norm(text)))
        seconds = time.perf_counter() - started
        print(f"| {label} | {round(score * words)} | {score:.3f} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
