"""Short words on telephone-band audio: does each open an utterance, and what does its final say?

``python -m bench.local_short_words`` streams isolated words, each after 0.5 s and before 1.5 s of
silence, through the local engine:

- ``asterisk``: every digit, letter and phonetic-alphabet word of the Asterisk prompts
  (``bench.natural_speech``: a human voice, 8 kHz, resampled to 16 kHz as the service resamples
  an 8-kHz client);
- ``swedish``: :data:`SWEDISH_WORDS` spoken by espeak-ng in the Swedish fixtures' voice, taken
  down to 8 kHz and back (a synthetic stand-in: no human Swedish recordings are reachable here).

For every word it measures the speech's length (first to last sample above :data:`LOUD`), whether
the VAD and endpointer open an utterance over it with the configured ``vad_sustained_ms`` and
without it (0: the plain threshold), and the streamed final with the production settings. Words
with at least :data:`MIN_SPEECH_S` of speech are the ones issue 15 requires to open an utterance.
``--vad-only`` measures the openings alone, without loading Whisper (a few seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soxr
from whisper_normalizer.english import EnglishTextNormalizer

from bench.local_wer import stream_finals
from bench.natural_speech import fetch, telephone_prompts
from bench.wer_scoring import build_stream, plain_normaliser
from realtime_stt.engine.protocol import Final
from realtime_stt.local.endpointer import Endpointer, UtteranceStart
from realtime_stt.local.engine import LocalEngine
from realtime_stt.local.utterance import StreamingOptions
from realtime_stt.local.vad import StreamingVad

RATE = 16_000
LOUD = 500
"""A sample above this (about -36 dBFS) is speech for the length measurement."""
MIN_SPEECH_S = 0.5
LEAD_S = 0.5
GAP_S = 1.5
SHORT_SETS = ("digits", "letters", "phonetic")
SWEDISH_WORDS = [
    "ja", "nej", "hej", "tack", "noll", "ett", "två", "tre", "fyra", "fem", "sex", "sju",
    "åtta", "nio", "tio", "hjälp", "stopp", "avbryt", "fortsätt", "kundtjänst", "växeln",
    "sälj", "faktura", "beställning", "reklamation", "personnummer", "kontonummer", "svenska",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Word:
    """One isolated word: its name, 16-kHz samples and text."""

    name: str
    audio: npt.NDArray[np.int16]
    text: str


def asterisk_words() -> list[Word]:
    """The Asterisk prompts that are a digit, a letter or a phonetic-alphabet word."""
    return [
        Word(item.name, item.audio, item.text)
        for item in telephone_prompts(fetch(), min_words=1)
        if item.name.split("/")[0] in SHORT_SETS and len(item.text.split()) <= 2
    ]


def swedish_words() -> list[Word]:
    """:data:`SWEDISH_WORDS` from espeak-ng (``sv+m3``), through an 8-kHz channel."""
    words = []
    with tempfile.TemporaryDirectory() as tmp:
        for text in SWEDISH_WORDS:
            raw, narrow = Path(tmp) / "raw.wav", Path(tmp) / "narrow.wav"
            subprocess.run(["espeak-ng", "-v", "sv+m3", "-w", str(raw), text], check=True)
            subprocess.run(
                ["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(narrow)], check=True
            )
            with wave.open(str(narrow)) as reader:
                samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
            wide = np.asarray(soxr.resample(samples, 8000, RATE), dtype=np.int16)
            words.append(Word(f"sv/{text}", wide, text))
    return words


def speech_seconds(audio: npt.NDArray[np.int16]) -> float:
    """First to last sample above :data:`LOUD`, in seconds (0 without any)."""
    loud = np.flatnonzero(np.abs(audio.astype(np.int32)) > LOUD)
    return float(loud[-1] - loud[0]) / RATE if loud.size else 0.0


def opened_spans(audio: npt.NDArray[np.int16], sustained_ms: int) -> list[tuple[int, int]]:
    """The sample spans of the utterances the VAD and endpointer open over ``audio`` (an
    utterance still open at the end runs to the end)."""
    options = StreamingOptions()
    vad, samples = StreamingVad(), audio.astype(np.float32) / np.float32(32768)
    block = int(options.block_s * RATE)  # scored in the session's blocks, as it scores them
    probs = np.concatenate(
        [vad.process(samples[i : i + block]) for i in range(0, samples.size, block)]
    )
    endpointer = Endpointer(
        threshold=options.vad_threshold,
        min_silence_ms=options.min_silence_ms,
        pad_ms=options.speech_pad_ms,
        sustained_ms=sustained_ms,
    )
    spans: list[tuple[int, int]] = []
    start: int | None = None
    for boundary in endpointer.feed(probs):
        if isinstance(boundary, UtteranceStart):
            start = boundary.sample
        elif start is not None:
            spans.append((start, boundary.sample))
            start = None
    if start is not None:
        spans.append((start, audio.size))
    return spans


def overlaps(spans: list[tuple[int, int]], lo: int, hi: int) -> bool:
    return any(min(b, hi) > max(a, lo) for a, b in spans)


async def measure(name: str, words: list[Word], language: str, *, finals_too: bool) -> None:
    lead = np.zeros(int(LEAD_S * RATE), dtype=np.int16)
    stream = build_stream([(np.concatenate([lead, w.audio]), w.text) for w in words], GAP_S)
    sustained = StreamingOptions().vad_sustained_ms
    opened = {ms: opened_spans(stream.audio, ms) for ms in (sustained, 0)}
    finals: list[Final] = []
    if finals_too:
        engine = LocalEngine()
        await engine.start()
        finals = await stream_finals(engine, stream.audio, language)
    normalise = EnglishTextNormalizer() if language == "en" else plain_normaliser
    rows: dict[bool, list[int]] = {True: [0] * 5, False: [0] * 5}
    missed = []
    for word, (a, b) in zip(words, stream.spans, strict=True):
        lo, hi = a + lead.size, b
        long_enough = speech_seconds(word.audio) >= MIN_SPEECH_S
        texts = [f.text for f in finals if min(f.end_s * RATE, hi) > max(f.start_s * RATE, lo)]
        said = normalise(" ".join(texts))
        counts = rows[long_enough]
        counts[0] += 1
        counts[1] += overlaps(opened[sustained], lo, hi)
        counts[2] += overlaps(opened[0], lo, hi)
        counts[3] += bool(said.strip())
        counts[4] += said == normalise(word.text)
        if long_enough and not overlaps(opened[sustained], lo, hi):
            missed.append(f"{word.name} ({speech_seconds(word.audio):.2f} s): opens nothing")
        elif finals_too and long_enough and not said.strip():
            missed.append(f"{word.name} ({speech_seconds(word.audio):.2f} s): no final with text")
    for long_enough in (True, False):
        n, with_sustained, plain, with_text, right = rows[long_enough]
        length = f">= {MIN_SPEECH_S}" if long_enough else f"< {MIN_SPEECH_S}"
        result = f"{with_text} | {right}" if finals_too else "- | -"
        print(f"| {name} | {length} s | {n} | {with_sustained} | {plain} | {result} |", flush=True)
    for item in missed:
        print(f"    {item}")


async def run(sets: list[str], *, finals_too: bool) -> None:
    sustained = StreamingOptions().vad_sustained_ms
    print(
        f"| set | speech | words | opened (sustained {sustained} ms) | opened (plain threshold)"
        " | finals with text | final = the word |"
    )
    print("|---|---|---|---|---|---|---|")
    if "asterisk" in sets:
        await measure("asterisk (human, 8 kHz)", asterisk_words(), "en", finals_too=finals_too)
    if "swedish" in sets:
        swedish = swedish_words()
        await measure("Swedish espeak-ng via 8 kHz", swedish, "sv", finals_too=finals_too)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", default="asterisk,swedish")
    parser.add_argument(
        "--vad-only", action="store_true", help="only the VAD and endpointer, no Whisper"
    )
    args = parser.parse_args()
    asyncio.run(run(args.set.split(","), finals_too=not args.vad_only))


if __name__ == "__main__":
    main()
