"""Streamed finals of the local engine against a one-shot pass, with their failure events.

``python -m bench.local_wer`` transcribes each corpus twice with the bundled model:

- *one-shot*: faster-whisper's own ``WhisperModel.transcribe`` of the whole stream (beam 5,
  temperature 0: deterministic);
- *streamed*: the stream through a real :class:`~realtime_stt.local.session.LocalSession` in
  100-ms chunks, faster than real time, once per configuration: ``production`` (the engine's
  defaults, partials and speculative finals on, as the service runs) and ``bench`` (partials and
  speculation off, the configuration of earlier measurements).

Corpora (``--corpus``, comma-separated):

- ``natural``: LibriVox readings and telephone prompts (``bench.natural_speech``, fetched with
  ``apt-get download`` on first use), about 15 minutes of English;
- ``espeak``: :data:`CORPUS`, 40 English sentences spoken by espeak-ng (needs espeak-ng and sox);
- ``swedish``: the project's Swedish espeak fixtures (``tests/fixtures/sv_*.wav``) and
  :data:`SWEDISH_SENTENCES` spoken by espeak-ng in the fixtures' voice (``sv+m3``, 140 wpm).

Every recording is followed by ``--gap`` seconds of silence. The table gives word errors (after
Whisper's English normaliser for English) and the failure events of ``bench.wer_scoring``:
repeated phrases, empty finals on speech, recordings lost, for the streamed finals (a one-shot
segment may span two recordings, so the events are not counted for it; ``--show`` lists its
segments).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import subprocess
import tempfile
import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
from faster_whisper import WhisperModel
from whisper_normalizer.english import EnglishTextNormalizer

from bench.local_streaming import EXTRA_SENTENCES, synthesise
from bench.natural_speech import load_corpus
from bench.wer_scoring import (
    Score,
    Stream,
    build_stream,
    plain_normaliser,
    score_finals,
)
from realtime_stt.engine.protocol import Final, SessionConfig
from realtime_stt.local.assets import bundled_model_dir
from realtime_stt.local.engine import LocalEngine
from realtime_stt.local.utterance import StreamingOptions

RATE = 16_000
CHUNK = RATE // 10
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
CORPUS = [
    "tomorrow the weather will be sunny with a light wind from the north",
    "the quick brown fox jumps over the lazy dog. then it runs back into the forest",
    *EXTRA_SENTENCES,
    "my brother lives in a small house by the lake with two cats and a dog",
    "could you send me the report before lunch on friday",
    "the new bus line will connect the airport with the central station",
    "we need twelve chairs, four tables and a projector for the workshop",
    "the river was so cold that nobody wanted to swim",
    "he has been learning to play the piano for three years",
    "the price of coffee went up again this month",
    "after dinner we walked along the beach and watched the boats",
    "the hospital is looking for nurses who can work at night",
    "remember to lock the door when you leave the office",
    "the concert starts at eight, so we should leave home at half past seven",
    "a strong storm closed the roads in the mountains last winter",
    "the teacher asked the students to read the first chapter at home",
    "our flight was delayed by two hours because of the fog",
    "the garden is full of roses and tall green trees",
    "you can pay with a card or with cash at the front desk",
    "the factory produces one thousand bicycles every week",
    "my grandmother tells the best stories about her childhood",
    "the shop on the corner sells newspapers, milk and fresh fruit",
    "it takes about twenty minutes to walk from here to the harbour",
    "the committee will announce its decision next tuesday",
    "please turn off your phone during the film",
    "the bridge was built more than one hundred years ago",
    "we planted tomatoes, carrots and potatoes in the spring",
    "the company hired fifty new engineers this year",
    "there is a small bakery next to the post office",
    "the winter evenings are long and dark in the north",
    "he forgot his keys on the kitchen table again",
    "the match ended in a draw after extra time",
    "thank you for listening and have a good evening",
]
SWEDISH = [
    ("sv_weather", "Hej, jag heter Anna och jag bor i Stockholm. Idag ska vi prata om vädret."),
    ("sv_city", "Stockholm är huvudstaden i Sverige och staden ligger vid vattnet."),
]
SWEDISH_SENTENCES = [
    "tåget till Göteborg går klockan åtta från spår tre",
    "min syster arbetar som lärare på en skola i Uppsala",
    "det regnade hela dagen så vi stannade inne och läste",
    "kan du köpa mjölk och bröd på vägen hem",
    "mötet flyttas till torsdag eftermiddag",
    "barnen spelade fotboll i parken tills det blev mörkt",
    "vi åkte till fjällen för att åka skidor i februari",
    "glöm inte att stänga fönstret innan du går",
    "bussen var försenad på grund av snön",
    "tack för hjälpen och ha en trevlig helg",
]
CONFIGS: dict[str, Callable[[StreamingOptions], StreamingOptions]] = {
    "production": lambda options: options,
    "bench": lambda options: dataclasses.replace(
        options, partial_interval_s=1e9, speculate_after_ms=0
    ),
}
Items = list[tuple[npt.NDArray[np.int16], str]]


def fixture(name: str) -> npt.NDArray[np.int16]:
    with wave.open(str(FIXTURES / f"{name}.wav")) as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.int16)


def speak_swedish(text: str) -> npt.NDArray[np.int16]:
    """Swedish speech for ``text`` from espeak-ng, as ``tests/fixtures/make_speech.sh`` makes
    the Swedish fixtures (needs espeak-ng and sox)."""
    with tempfile.TemporaryDirectory() as tmp:
        raw, wav = Path(tmp) / "raw.wav", Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", "sv+m3", "-s", "140", "-w", str(raw), text], check=True)
        subprocess.run(
            ["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(wav)], check=True
        )
        with wave.open(str(wav)) as reader:
            return np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2").astype(
                np.int16
            )


def corpus_items(name: str) -> tuple[Items, str]:
    """The recordings of corpus ``name`` with their texts, and the language."""
    if name == "natural":
        return [(item.audio, item.text) for item in load_corpus()], "en"
    if name == "espeak":
        return [(synthesise(s).astype(np.int16), s) for s in CORPUS], "en"
    if name == "swedish":
        spoken = [(speak_swedish(text), text) for text in SWEDISH_SENTENCES]
        return [(fixture(n), text) for n, text in SWEDISH] + spoken, "sv"
    msg = f"unknown corpus {name!r}"
    raise ValueError(msg)


async def stream_finals(
    engine: LocalEngine, audio: npt.NDArray[np.int16], language: str
) -> list[Final]:
    """The finals of one session fed ``audio`` in 100-ms chunks as fast as it takes them."""
    finals: list[Final] = []
    async with engine.open_session(SessionConfig("wer", language)) as session:

        async def drain() -> None:
            async for event in session:
                if isinstance(event, Final):
                    finals.append(event)

        task = asyncio.create_task(drain())
        for offset in range(0, audio.size, CHUNK):
            session.push_audio(audio[offset : offset + CHUNK].tobytes())
            await session.wait_for_room()
        session.end_input()
        await task
    return finals


def one_shot(model: WhisperModel, audio: npt.NDArray[np.int16], language: str) -> list[Final]:
    """The one-shot pass's segments, as finals (so that both are scored recording by
    recording)."""
    samples = audio.astype(np.float32) / 32768.0
    segments, _ = model.transcribe(samples, language=language, beam_size=5, temperature=0.0)
    return [Final(i, s.text, s.start, s.end, ()) for i, s in enumerate(segments)]


def row(label: str, score: Score, seconds: float, *, events: bool = True) -> str:
    counts = (
        f"{len(score.repeats)} | {len(score.empty_on_speech)} | {len(score.lost)}"
        if events
        else "- | - | -"
    )
    rate = score.errors / score.words if score.words else 0.0
    return f"| {label} | {score.errors} / {score.words} ({rate:.3f}) | {counts} | {seconds:.0f} |"


async def run(args: argparse.Namespace) -> None:
    model = WhisperModel(str(bundled_model_dir()), device="cpu", compute_type="int8")
    engine = LocalEngine()
    await engine.start()
    print("| corpus, system | word errors / words (WER) | repeats | empty on speech | lost | s |")
    print("|---|---|---|---|---|---|", flush=True)
    for name in args.corpus.split(","):
        items, language = corpus_items(name)
        stream = build_stream(items, args.gap)
        normalise = EnglishTextNormalizer() if language == "en" else plain_normaliser
        minutes = stream.audio.size / RATE / 60
        label = f"{name} ({len(items)} recordings, {minutes:.1f} min)"
        started = time.perf_counter()
        segments = one_shot(model, stream.audio, language)
        elapsed = time.perf_counter() - started
        score = score_finals(stream, segments, normalise)
        print(row(f"{label}, one-shot", score, elapsed, events=False), flush=True)
        if args.show:
            show(stream, segments, score)
        for config in args.config.split(","):
            options = CONFIGS[config](engine.streaming)
            started = time.perf_counter()
            finals = await stream_finals(
                dataclasses.replace(engine, streaming=options), stream.audio, language
            )
            score = score_finals(stream, finals, normalise)
            elapsed = time.perf_counter() - started
            print(row(f"{label}, streamed {config}", score, elapsed), flush=True)
            if args.show:
                show(stream, finals, score)


def show(stream: Stream, finals: list[Final], score: Score) -> None:
    for kind in ("repeats", "empty_on_speech", "lost"):
        for event in getattr(score, kind):
            print(f"    {kind}: {event}")
    for final in finals:
        print(f"    final {final.start_s:7.2f}-{final.end_s:7.2f}: {final.text}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default="natural,espeak,swedish")
    parser.add_argument("--config", default="production,bench")
    parser.add_argument("--gap", type=float, default=1.5, help="silence after each recording (s)")
    parser.add_argument("--show", action="store_true", help="print every final and event")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
