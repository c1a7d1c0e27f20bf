"""Streaming WER of the local engine against one-shot WER, on a larger English corpus.

``python -m bench.local_wer`` speaks :data:`CORPUS` with espeak-ng (about 40 sentences, 500
words), joins the sentences with pauses into one stream, and transcribes it twice with the bundled
model:

- *streaming*: the stream goes through a real :class:`~realtime_stt.local.session.LocalSession`
  in 100-ms chunks, faster than real time (partials and speculation off: neither changes a
  final, which depends only on the audio, the endpointer and the previous final);
- *one-shot*: faster-whisper's own ``WhisperModel.transcribe`` of the whole stream, beam 5, once
  with its stock temperature fallback and once without it (``temperature=0``, deterministic).

Both sides are scored with Whisper's English text normaliser (the one the Whisper paper uses:
casing, punctuation, spelled and written numbers), so "seven" and "7" are the same word.
``--min-silence-ms`` takes a comma-separated sweep of the endpointer's silence.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import time

import jiwer
import numpy as np
from faster_whisper import WhisperModel
from whisper_normalizer.english import EnglishTextNormalizer

from bench.local_streaming import EXTRA_SENTENCES, synthesise
from realtime_stt.engine.protocol import Final, SessionConfig
from realtime_stt.local.assets import bundled_model_dir
from realtime_stt.local.engine import LocalEngine

RATE = 16_000
CHUNK = RATE // 10
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


@dataclasses.dataclass(frozen=True)
class Corpus:
    audio: np.ndarray
    reference: str


def build_corpus(gap_s: float) -> Corpus:
    """The sentences spoken one after another with ``gap_s`` of silence after each."""
    gap = np.zeros(int(gap_s * RATE), dtype="<i2")
    parts: list[np.ndarray] = []
    for sentence in CORPUS:
        parts += [synthesise(sentence), gap]
    return Corpus(np.concatenate(parts), " ".join(CORPUS))


async def stream_text(engine: LocalEngine, audio: np.ndarray) -> str:
    """The finals of one streaming session fed ``audio`` in 100-ms chunks, joined."""
    texts: list[str] = []
    async with engine.open_session(SessionConfig("wer", "en")) as session:

        async def drain() -> None:
            async for event in session:
                if isinstance(event, Final):
                    texts.append(event.text)

        task = asyncio.create_task(drain())
        for offset in range(0, audio.size, CHUNK):
            session.push_audio(audio[offset : offset + CHUNK].tobytes())
            await session.wait_for_room()
        session.end_input()
        await task
    return " ".join(texts)


def one_shot_text(model: WhisperModel, audio: np.ndarray, *, fallback: bool) -> str:
    samples = audio.astype(np.float32) / 32768.0
    temperature = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0) if fallback else 0.0
    segments, _ = model.transcribe(samples, language="en", beam_size=5, temperature=temperature)
    return " ".join(s.text for s in segments)


async def run(args: argparse.Namespace) -> None:
    corpus = build_corpus(args.gap)
    norm = EnglishTextNormalizer()
    reference = norm(corpus.reference)
    words = len(reference.split())

    def report(label: str, text: str, started: float) -> None:
        hypothesis = norm(text)
        if args.show:
            alignment = jiwer.process_words(reference, hypothesis)
            print(jiwer.visualize_alignment(alignment, show_measures=False))
        score = float(jiwer.wer(reference, hypothesis))
        seconds = time.perf_counter() - started
        print(f"| {label} | {score:.4f} | {round(score * words)} | {seconds:.1f} |", flush=True)

    print(f"corpus: {len(CORPUS)} sentences, {words} words, {corpus.audio.size / RATE:.0f} s")
    print("| system | WER | errors | seconds |")
    print("|---|---|---|---|")
    model = WhisperModel(str(bundled_model_dir()), device="cpu", compute_type="int8")
    for fallback in (False, True):
        started = time.perf_counter()
        text = one_shot_text(model, corpus.audio, fallback=fallback)
        report(f"one-shot, temperature {'fallback' if fallback else '0'}", text, started)
    engine = LocalEngine()
    await engine.start()
    for silence in [int(s) for s in args.min_silence_ms.split(",")]:
        options = dataclasses.replace(
            engine.streaming, min_silence_ms=silence, partial_interval_s=1e9, speculate_after_ms=0
        )
        started = time.perf_counter()
        text = await stream_text(dataclasses.replace(engine, streaming=options), corpus.audio)
        report(f"streaming, min silence {silence} ms", text, started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gap", type=float, default=1.5, help="silence after each sentence (s)")
    parser.add_argument("--min-silence-ms", default="400")
    parser.add_argument("--show", action="store_true", help="print the streamed text")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
