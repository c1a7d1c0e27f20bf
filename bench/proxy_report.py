"""Tables for ``bench.openai_proxy``: summaries of runs as Markdown."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.proxy_clients import (
    StreamResult,
)
from bench.proxy_processes import (
    Snapshot,
)

SAME_RATE_BASELINE = {
    "service": "relay-16k",
    "service-2w": "relay-16k",
    "service-24k": "relay",
    "relay-16k": "relay",
}
"""The relay whose clients send the same sample rate: with 16-kHz clients the relay resamples as
the service does, so the two do the same required work."""


@dataclass
class RunResult:
    """One run: N streams against one system."""

    system: str
    streams: int
    results: list[StreamResult]
    shots: list[Snapshot]
    lag_ms: list[float]
    audio_s: float


def pct(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile, or NaN for no values."""
    return float(np.percentile(values, q)) if len(values) else float("nan")


@dataclass(frozen=True)
class Summary:
    """The numbers one table row shows."""

    expected: int
    heard: int
    lost: int
    extra: int
    failures: int
    errors: int
    trouble: str
    latency: list[float]
    cpu: dict[str, float]
    other: float
    per_stream_ms: float
    lag_p99: float
    send_lag_max: float


def trouble(results: list[StreamResult]) -> str:
    """Streams that failed (by why) and error messages received (by code), if any."""
    failed = Counter(r.failure for r in results if r.failure)
    codes = Counter(code for r in results for code in r.errors)
    parts = [f"{n} streams {why}" for why, n in failed.most_common()]
    parts += [f"{n} errors {code}" for code, n in codes.most_common()]
    return ", ".join(parts)


def summarise(run: RunResult) -> Summary:
    """Totals over the streams, CPU as % of one core over the steady window."""
    first, last = run.shots[0], run.shots[-1]
    window = last.at - first.at
    cpu = {role: 100 * (last.cpu[role] - first.cpu[role]) / window for role in first.cpu}
    busy = 100 * (last.machine[0] - first.machine[0]) / window
    lost_extra = [r.lost_and_extra() for r in run.results]
    return Summary(
        expected=sum(len(r.expected) for r in run.results),
        heard=sum(len(r.heard) for r in run.results),
        lost=sum(lost for lost, _ in lost_extra),
        extra=sum(extra for _, extra in lost_extra),
        failures=sum(1 for r in run.results if r.failure),
        errors=sum(len(r.errors) for r in run.results),
        trouble=trouble(run.results),
        latency=[x for r in run.results for x in r.latency_ms],
        cpu=cpu,
        other=max(0.0, busy - sum(cpu.values())),
        per_stream_ms=10 * cpu["server"] / run.streams,
        lag_p99=pct(run.lag_ms, 99),
        send_lag_max=max(r.send_lag_ms for r in run.results),
    )


def latency_table(runs: list[RunResult]) -> str:
    """The Markdown table of the latency benchmark."""
    rows = [
        "| system | streams | utterances / finals / lost / extra | added latency p50 / p90 / "
        "p99 / max (ms) | server CPU (% of a core) | CPU per stream (ms/s) | vs relay "
        "| vs relay, same client rate | fake / clients / other CPU (%) | client lag p99 (ms) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    summaries = {(r.system, r.streams): summarise(r) for r in runs}

    def versus(baseline: str | None, run: RunResult, s: Summary) -> str:
        base = summaries.get((baseline, run.streams)) if baseline else None
        return f"{s.per_stream_ms / base.per_stream_ms:.2f}x" if base else ""

    for run in runs:
        s = summaries[run.system, run.streams]
        ratio = versus("relay", run, s)
        same_rate = versus(SAME_RATE_BASELINE.get(run.system), run, s)
        trouble = f" ({s.trouble})" if s.trouble else ""
        rows.append(
            f"| {run.system} | {run.streams} | {s.expected} / {s.heard} / {s.lost} / {s.extra}"
            f"{trouble} | {pct(s.latency, 50):.1f} / {pct(s.latency, 90):.1f} / "
            f"{pct(s.latency, 99):.1f} / {max(s.latency, default=float('nan')):.1f} "
            f"| {s.cpu['server']:.0f} | {s.per_stream_ms:.2f} | {ratio} | {same_rate} "
            f"| {s.cpu['fake']:.0f} / {s.cpu['clients']:.0f} / {s.other:.0f} "
            f"| {s.lag_p99:.1f} |"
        )
    return "\n".join(rows)


def soak_tables(run: RunResult) -> str:
    """The summary and RSS-over-time tables of the soak."""
    s = summarise(run)
    first = run.shots[0]
    lines = [
        "| sessions | audio per session | utterances / finals / lost / extra | added latency "
        "p50 / p99 / max (ms) | server CPU (% of a core) | CPU per stream (ms/s) | server RSS "
        "start → end (MiB) | fake / clients / other CPU (%) | client lag p99 (ms) |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {run.streams} | {run.audio_s / 60:.1f} min | {s.expected} / {s.heard} / {s.lost} / "
        f"{s.extra}{f' ({s.trouble})' if s.trouble else ''} | {pct(s.latency, 50):.1f} / "
        f"{pct(s.latency, 99):.1f} / "
        f"{max(s.latency, default=float('nan')):.1f} | {s.cpu['server']:.0f} "
        f"| {s.per_stream_ms:.2f} | {first.rss['server']:.0f} → {run.shots[-1].rss['server']:.0f} "
        f"| {s.cpu['fake']:.0f} / {s.cpu['clients']:.0f} / {s.other:.0f} | {s.lag_p99:.1f} |",
        "",
        "| time (s) | server RSS (MiB) | fake RSS (MiB) | since the row above: server CPU (% of "
        "a core) | other CPU (%) | finals | added latency p50 / p99 / max (ms) |",
        "|---|---|---|---|---|---|---|",
    ]
    arrivals = sorted(
        (at, ms) for r in run.results for at, ms in zip(r.arrived_s, r.latency_ms, strict=True)
    )
    previous = first
    for shot in run.shots:
        span = shot.at - previous.at
        if span > 0:
            used = {role: 100 * (shot.cpu[role] - previous.cpu[role]) / span for role in shot.cpu}
            busy = 100 * (shot.machine[0] - previous.machine[0]) / span
            window = [ms for at, ms in arrivals if previous.at < at <= shot.at]
            interval = (
                f"{used['server']:.0f} | {max(0.0, busy - sum(used.values())):.0f} "
                f"| {len(window)} | {pct(window, 50):.1f} / {pct(window, 99):.1f} / "
                f"{max(window, default=float('nan')):.1f}"
            )
        else:
            interval = "| | |"
        lines.append(
            f"| {shot.at - first.at:.0f} | {shot.rss['server']:.1f} | {shot.rss['fake']:.1f} "
            f"| {interval} |"
        )
        previous = shot
    return "\n".join(lines)


def profile_summary(path: Path, top: int = 25) -> str:
    """Self and inclusive shares of the functions in a py-spy ``raw`` (collapsed stacks) file."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        total += count
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
    rows = ["| function (file) | self % | inclusive % |", "|---|---|---|"]
    for frame, count in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        rows.append(
            f"| `{frame}` | {100 * own.get(frame, 0) / total:.1f} | {100 * count / total:.1f} |"
        )
    rows += ["", "| hottest leaf functions | self % |", "|---|---|"]
    for frame, count in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        rows.append(f"| `{frame}` | {100 * count / total:.1f} |")
    return "\n".join(rows)
