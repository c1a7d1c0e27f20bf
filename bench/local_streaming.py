"""Benchmark of the local engine over real sockets, with 1..N concurrent real-time streams.

Starts ``python -m realtime_stt`` as a subprocess on a free loopback port, then runs N clients
at once, each streaming the same English script (fixture clips separated by 1.5 s of silence)
paced at real time in 100-ms chunks. Measured per utterance: speech end to its last final, and
speech onset to the first partial; per run: the server's CPU seconds per audio second, and the WER
of the streamed finals and of a one-shot faster-whisper transcription against the script's text.

Usage: ``python -m bench.local_streaming [--streams 1,2,4,6] [--stagger S] [--repeat K]``. With
``--stagger 0`` (the default) every stream speaks and pauses at the same moments, the worst case
for finals; ``--stagger`` offsets each stream's start by S more seconds, as independent speakers
would be. ``--repeat K`` plays the script K times in a row in every stream, for a soak: the table
then also counts utterances left without a final ("lost") and shows the server's memory (VmRSS)
at the start, its peak and its end. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

import jiwer
import numpy as np
from faster_whisper import WhisperModel
from websockets.asyncio.client import connect

from bench.proxy_processes import free_port, rss_mb, wait_healthy
from realtime_stt.local.assets import bundled_model_dir

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
RATE = 16_000
GAP_S = 1.5
SCRIPT = [
    ("en_weather", "tomorrow the weather will be sunny with a light wind from the north"),
    (
        "en_fox",
        "the quick brown fox jumps over the lazy dog then it runs back into the forest to find"
        " some water",
    ),
    ("en_weather", "tomorrow the weather will be sunny with a light wind from the north"),
]


@dataclass
class Clip:
    onset_s: float
    end_s: float


@dataclass
class StreamResult:
    final_latency: list[float] = field(default_factory=list)
    partial_latency: list[float] = field(default_factory=list)
    text: str = ""
    lost: int = 0
    """Utterances that no final covers."""


def load(name: str) -> np.ndarray:
    with wave.open(str(FIXTURES / f"{name}.wav")) as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")


EXTRA_SENTENCES = [
    "the train to the city leaves at seven in the morning from the second platform",
    "please remember to bring your umbrella because it may rain later this afternoon",
    "our meeting has been moved to thursday so that everyone can join the discussion",
    "the library opens at nine and closes at five on weekdays",
    "she bought fresh bread and cheese at the market near the old bridge",
    "the children played football in the park until the sun went down",
    "turn left at the next corner and the museum is on your right",
    "the doctor said that a short walk every day is good for your heart",
]


def synthesise(text: str) -> np.ndarray:
    """English speech for ``text`` from Debian's espeak-ng, at 16 kHz (bench-only dependency)."""
    with tempfile.TemporaryDirectory() as tmp:
        raw, wav = Path(tmp) / "raw.wav", Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), text], check=True)
        subprocess.run(
            ["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(wav)], check=True
        )
        with wave.open(str(wav)) as reader:
            return np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")


def build_script(long: bool = False, repeat: int = 1) -> tuple[bytes, list[Clip], str]:
    """The stream's audio, its utterances' speech spans, and the reference text.

    ``long`` adds eight more sentences made with espeak-ng (needs espeak-ng and sox), for a WER
    comparison on about 130 words instead of 40; ``repeat`` plays the whole script that often.
    """
    items = [(load(name), text) for name, text in SCRIPT]
    if long:
        items += [(synthesise(text), text) for text in EXTRA_SENTENCES]
    items *= repeat
    parts, clips, cursor = [], [], 0
    for audio, _ in items:
        loud = np.flatnonzero(np.abs(audio) > 500)
        clips.append(Clip((cursor + loud[0]) / RATE, (cursor + loud[-1]) / RATE))
        parts += [audio, np.zeros(int(GAP_S * RATE), dtype="<i2")]
        cursor += audio.size + int(GAP_S * RATE)
    reference = " ".join(text for _, text in items)
    return np.concatenate(parts).tobytes(), clips, reference


def normalise(text: str) -> str:
    return " ".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


async def run_stream(url: str, audio: bytes, clips: list[Clip], delay: float) -> StreamResult:
    await asyncio.sleep(delay)
    result = StreamResult()
    finals: dict[int, tuple[float, dict[str, object]]] = {}
    partials: dict[int, tuple[float, dict[str, object]]] = {}
    async with connect(url, max_size=None) as ws:
        json.loads(await ws.recv())
        start = time.monotonic()

        async def reader() -> None:
            async for raw in ws:
                message = json.loads(raw)
                now = time.monotonic() - start
                segment = message.get("segment_id")
                if message["type"] == "final":
                    finals[segment] = (now, message)
                elif message["type"] == "partial" and segment not in partials:
                    partials[segment] = (now, message)

        task = asyncio.create_task(reader())
        chunk = 3200
        for index, offset in enumerate(range(0, len(audio), chunk)):
            await asyncio.sleep(max(0.0, start + index * 0.1 - time.monotonic()))
            await ws.send(audio[offset : offset + chunk])
        await ws.send(json.dumps({"type": "end"}))
        await task
    ordered = [finals[k][1] for k in sorted(finals)]
    result.text = normalise(" ".join(str(m["text"]) for m in ordered))
    for clip in clips:
        covering = [
            (arrived, m)
            for arrived, m in finals.values()
            if m["ts"]["start_s"] < clip.end_s and m["ts"]["end_s"] > clip.onset_s  # type: ignore[index]
        ]
        if covering:
            result.final_latency.append(max(a for a, _ in covering) - clip.end_s)
        else:
            result.lost += 1

        first = [
            arrived
            for arrived, m in partials.values()
            if clip.onset_s - 0.5 <= m["ts"]["start_s"] < clip.end_s  # type: ignore[index]
        ]
        if first:
            result.partial_latency.append(min(first) - clip.onset_s)
    return result


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_shot_text(audio: bytes) -> str:
    model = WhisperModel(str(bundled_model_dir()), device="cpu", compute_type="int8")
    samples = np.frombuffer(audio, dtype="<i2").astype(np.float32) / 32768
    segments, _ = model.transcribe(samples, language="en", beam_size=5, temperature=0.0)
    return normalise(" ".join(s.text for s in segments))


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", default="1,2,4,6")
    parser.add_argument("--long", action="store_true", help="add 8 espeak-ng sentences")
    parser.add_argument(
        "--stagger",
        type=float,
        default=0.0,
        help="seconds between stream starts (0: all in lockstep, the worst case)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="play the script this many times")
    args = parser.parse_args()
    audio, clips, reference = build_script(long=args.long, repeat=args.repeat)
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "ENGINE": "local",
        "LANGUAGE": "en",
        "MAX_SESSIONS": "64",
    }
    command = [sys.executable, "-m", "realtime_stt"]
    quiet = subprocess.DEVNULL
    server = subprocess.Popen(command, env=env, stdout=quiet, stderr=quiet)
    try:
        wait_healthy(port, timeout_s=120)
        url = f"ws://127.0.0.1:{port}/ws?language=en"
        one_shot_wer = jiwer.wer(reference, one_shot_text(audio))
        print(f"audio per stream: {len(audio) / 2 / RATE:.1f} s; one-shot WER {one_shot_wer:.3f}\n")
        print(
            "| streams | utterances / lost | final latency p50 / p90 / p99 / max (s) "
            "| first partial p50 / p90 (s) | server CPU-s per audio-s "
            "| server RSS start / peak / end (MiB) | streaming WER (mean) | WER ratio |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for count in [int(n) for n in args.streams.split(",")]:
            cpu_before, rss_before = cpu_seconds(server.pid), rss_mb(server.pid)
            results, rss_peak = asyncio.run(
                _gather(url, audio, clips, count, args.stagger, server.pid)
            )
            cpu = cpu_seconds(server.pid) - cpu_before
            finals = [x for r in results for x in r.final_latency]
            partials = [x for r in results for x in r.partial_latency]
            wer = statistics.mean(jiwer.wer(reference, r.text) for r in results)
            ratio = wer / one_shot_wer if one_shot_wer else float("nan")
            audio_s = count * len(audio) / 2 / RATE
            lost = sum(r.lost for r in results)
            rss = f"{rss_before:.0f} / {rss_peak:.0f} / {rss_mb(server.pid):.0f}"
            print(
                f"| {count} | {count * len(clips)} / {lost} "
                f"| {pct(finals, 50):.2f} / {pct(finals, 90):.2f} / {pct(finals, 99):.2f} "
                f"/ {max(finals):.2f} | {pct(partials, 50):.2f} / {pct(partials, 90):.2f} "
                f"| {cpu / audio_s:.3f} | {rss} | {wer:.3f} | {ratio:.2f} |",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(timeout=30)


async def _gather(  # noqa: PLR0917 - one run's parameters
    url: str, audio: bytes, clips: list[Clip], count: int, stagger: float, server_pid: int
) -> tuple[list[StreamResult], float]:
    """Run ``count`` streams; also returns the server's peak RSS (sampled every second) and
    prints its RSS every 30 s."""
    peak = rss_mb(server_pid)
    series: list[str] = []

    async def sample() -> None:
        nonlocal peak
        for second in itertools.count(1):
            await asyncio.sleep(1.0)
            rss = rss_mb(server_pid)
            peak = max(peak, rss)
            if second % 30 == 0:
                series.append(f"{second} s: {rss:.0f}")

    sampler = asyncio.create_task(sample())
    runs = (run_stream(url, audio, clips, index * stagger) for index in range(count))
    results = list(await asyncio.gather(*runs))
    sampler.cancel()
    if series:
        print(f"server RSS (MiB) while {count} streams ran: " + ", ".join(series), flush=True)
    return results, peak


if __name__ == "__main__":
    main()
