"""The OpenAI engine with a streaming model and our own VAD's commits, under load.

``python -m bench.openai_streaming [--streams 1,50,200] [--sentences 6] [--pause 1.0]
[--systems service-client,service,relay-16k]`` runs, for each system and stream count, a fresh
fake upstream (:mod:`bench.fake_upstream`, streaming-model rules: deltas while voiced audio is
appended, the first after 0.5 s of voiced audio, then one word per 0.25 s, the last word held to
the commit; ``completed`` 0.01 s after the commit) and a fresh server, and N clients that each
stream ``--sentences`` espeak sentences with ``--pause`` s pauses in real time
(:mod:`bench.speech_clients`). Stream ``i`` starts ``i/N`` of a sentence cycle after the first.

Systems: ``service-client`` is the service with its defaults (``gpt-live-transcribe``, turn
detection ``client``: our Silero VAD scores every stream, commits, and skips the pauses);
``service`` runs ``gpt-transcribe`` with upstream's server VAD (our VAD idle); ``relay-16k`` is
the bare relay that resamples (the proxy benchmark's baseline); ``service-client-2w`` is
``service-client`` with ``WORKERS=2`` (two processes, two event loops and two VAD threads).

Reported per run: sentences, lost ones and extra finals, error messages; the added latency of
finals (the fake's emit stamp to the client's read, as in ``bench.openai_proxy``); onset to the
first partial and voice end to the final (wall time, from when the client sent that audio: these
include the fake's delays above and the commit silence); the server's CPU per stream (ms per
second of stream) over the steady window, and the fake's, the clients' and other work's CPU; the
audio the service appended upstream (its ``/metrics``) per second of audio received, and per
second of the sentence recordings (which hold short silences of their own); the exact share of
the inserted pauses that goes upstream is measured by ``bench.openai_commits``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import uvloop

from bench.proxy_clients import System, loop_lag, open_stream
from bench.proxy_processes import (
    Snapshot,
    fakes,
    machine,
    sampler,
    system_under_test,
    wait_for_quiet,
)
from bench.speech_clients import SpeechResult, SpeechScript, run_speech_stream

SENT = re.compile(r"^stt_upstream_audio_sent_seconds_total\{[^}]*\} (\S+)$", re.MULTILINE)


@dataclass
class Run:
    """One system with N streams."""

    system: str
    streams: int
    results: list[SpeechResult]
    shots: list[Snapshot]
    received_s: float
    clips_s: float
    sent_s: float | None
    lag_ms: list[float]


def upstream_seconds(system: System) -> float | None:
    """What the service says it appended upstream (``None`` for a relay, and for two workers,
    whose ``/metrics`` answer for one process each)."""
    if not system.service or system.name.endswith("-2w"):
        return None
    base = system.url.replace("ws://", "http://").split("/ws", 1)[0]
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(float(value) for value in SENT.findall(text))


async def drive(
    system: System, streams: int, script: SpeechScript, pids: dict[str, list[int]]
) -> Run:
    plans = [script.plan(index) for index in range(streams)]
    gate = asyncio.Semaphore(32)
    sockets = await asyncio.gather(*(open_stream(system, gate) for _ in range(streams)))
    cycle = max(len(audio) / 2 / system.rate for audio, _ in plans) / script.sentences
    t0 = time.monotonic() + 1.0
    length = max(len(audio) / 2 / system.rate for audio, _ in plans)
    window = (t0 + cycle, t0 + length)
    lag: list[float] = []
    shots_task = asyncio.create_task(sampler(pids, [window[0], window[1]]))
    lag_task = asyncio.create_task(loop_lag(lag, window[1]))
    runs = (
        run_speech_stream(ws, system, audio, SpeechResult(spans), t0 + index * cycle / streams)
        for index, (ws, (audio, spans)) in enumerate(zip(sockets, plans, strict=True))
    )
    results = list(await asyncio.gather(*runs))
    shots = await shots_task
    await lag_task
    received = sum(len(audio) / 2 / system.rate for audio, _ in plans)
    clips = sum(s.end_s - s.start_s for _, spans in plans for s in spans)
    sent = upstream_seconds(system)
    return Run(system.name, streams, results, shots, received, clips, sent, lag)


def run_once(
    name: str, streams: int, script_args: tuple[int, float], log_path: Path, quiet_s: float
) -> Run:
    wait_for_quiet(quiet_s)
    with (
        log_path.open("a") as log,
        fakes(1, log) as (fake_port, fake_pids),
        system_under_test(name, fake_port, log) as (system, server_pids),
    ):
        script = SpeechScript(system.rate, *script_args)
        pids = {"server": server_pids, "fake": fake_pids, "clients": [os.getpid()]}
        return uvloop.run(drive(system, streams, script, pids))


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def row(run: Run) -> str:
    first, last = run.shots
    span = last.at - first.at
    cpu = {role: 100 * (last.cpu[role] - first.cpu[role]) / span for role in first.cpu}
    other = 100 * (last.machine[0] - first.machine[0]) / span - sum(cpu.values())
    sentences = sum(len(r.sentences) for r in run.results)
    lost = sum(r.matched()[0] for r in run.results)
    extra = sum(r.matched()[1] for r in run.results)
    errors = sum(len(r.errors) for r in run.results) + sum(bool(r.failure) for r in run.results)
    added = [x for r in run.results for x in r.added_ms]
    partial = [x for r in run.results for x in r.delays()[0]]
    final = [x for r in run.results for x in r.delays()[1]]
    ratio = (
        "n/a"
        if run.sent_s is None
        else f"{run.sent_s / run.received_s:.2f} ({run.sent_s / run.clips_s:.2f} of sentences)"
    )
    return (
        f"| {run.system} | {run.streams} | {sentences} | {lost} | {extra} | {errors} "
        f"| {pct(added, 50):.1f} / {pct(added, 99):.1f} / {max(added, default=float('nan')):.0f} "
        f"| {pct(partial, 50):.2f} / {pct(partial, 90):.2f} "
        f"| {pct(final, 50):.2f} / {pct(final, 90):.2f} "
        f"| {cpu['server']:.0f} % | {10 * cpu['server'] / run.streams:.2f} "
        f"| {cpu['fake']:.0f} % / {cpu['clients']:.0f} % / {max(0.0, other):.0f} % "
        f"| {pct(run.lag_ms, 99):.1f} | {ratio} |"
    )


HEADER = (
    "| system | streams | sentences | lost | extra | errors | added latency p50 / p99 / max (ms) "
    "| onset to first partial p50 / p90 (s) | voice end to final p50 / p90 (s) | server CPU "
    "| per stream (ms/s) | fake / clients / other CPU | client lag p99 (ms) "
    "| sent / received |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", default="1,50,200")
    parser.add_argument("--sentences", type=int, default=6)
    parser.add_argument("--pause", type=float, default=1.0, help="seconds after each sentence")
    parser.add_argument("--systems", default="service-client,service,relay-16k")
    parser.add_argument("--log", default="/dev/null", help="server logs")
    parser.add_argument("--quiet-wait", type=float, default=60.0, help="max wait for quiet (s)")
    args = parser.parse_args()
    print(machine())
    print(f"{args.sentences} sentences per stream, {args.pause:g} s pauses\n")
    print(HEADER, flush=True)
    trouble: list[str] = []
    for streams in (int(n) for n in args.streams.split(",")):
        for name in args.systems.split(","):
            script = (args.sentences, args.pause)
            run = run_once(name, streams, script, Path(args.log), args.quiet_wait)
            print(row(run), flush=True)
            codes = Counter(code for r in run.results for code in r.errors)
            codes.update(r.failure for r in run.results if r.failure)
            if codes:
                trouble.append(f"{name} x {streams}: {dict(codes.most_common())}")
    for line in trouble:
        print(f"\n{line}")


if __name__ == "__main__":
    main()
