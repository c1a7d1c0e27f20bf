"""Processes for ``bench.openai_proxy``: the fake, the relay and the service; their CPU and RSS."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import platform
import select
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from bench.proxy_clients import KEY, REPO, System
from bench.relay import SERVER_VAD_MODEL

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of ``pid`` (its threads included), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from ``/proc/stat``."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    total = sum(values[:8])
    idle = values[3] + values[4]
    return (total - idle) / CLK_TCK, total / CLK_TCK


@dataclass(frozen=True)
class Snapshot:
    """CPU seconds and RSS of the processes of a run, and the machine's, at one moment."""

    at: float
    cpu: dict[str, float]
    rss: dict[str, float]
    machine: tuple[float, float]


def snapshot(pids: dict[str, list[int]]) -> Snapshot:
    """Read ``/proc`` for every role's processes (their sum per role)."""
    cpu = {role: sum(cpu_seconds(p) for p in group) for role, group in pids.items()}
    rss = {role: sum(rss_mb(p) for p in group) for role, group in pids.items()}
    return Snapshot(time.monotonic(), cpu, rss, machine_busy())


async def sampler(pids: dict[str, list[int]], moments: Sequence[float]) -> list[Snapshot]:
    """Snapshots at the given monotonic moments."""
    shots: list[Snapshot] = []
    for moment in moments:
        await asyncio.sleep(max(0.0, moment - time.monotonic()))
        shots.append(snapshot(pids))
    return shots


def free_port() -> int:
    """A free loopback TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_line(process: subprocess.Popen[str], expected: str, timeout_s: float) -> None:
    """Wait until ``process`` prints ``expected`` on stdout."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        if ready and process.stdout.readline().strip() == expected:
            return
        if process.poll() is not None:
            break
    msg = f"{process.args!r} did not print {expected!r}"
    raise RuntimeError(msg)


def wait_healthy(port: int, timeout_s: float) -> None:
    """Wait until the service answers 200 on ``/healthz``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as reply,
        ):
            if reply.status == 200:
                return
        time.sleep(0.2)
    msg = "the service did not become healthy"
    raise RuntimeError(msg)


def stop(process: subprocess.Popen[str]) -> None:
    """Terminate a process we started, killing it if it does not exit in time."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextlib.contextmanager
def started(
    args: list[str], log: IO[str], *, env: dict[str, str] | None = None, cwd: Path = REPO
) -> Iterator[subprocess.Popen[str]]:
    """A subprocess with stdout piped (for its ``ready`` line) and stderr to ``log``."""
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=log, env=env, cwd=cwd, text=True
    )
    try:
        yield process
    finally:
        stop(process)


@contextlib.contextmanager
def fakes(count: int, log: IO[str]) -> Iterator[tuple[int, list[int]]]:
    """``count`` fake upstream processes on one port; yields (port, pids)."""
    port = free_port()
    args = [sys.executable, "-m", "bench.fake_upstream", "--port", str(port)]
    if count > 1:
        args.append("--reuse-port")
    with contextlib.ExitStack() as stack:
        processes = [stack.enter_context(started(args, log)) for _ in range(count)]
        for process in processes:
            wait_line(process, "ready", 30)
        yield port, [p.pid for p in processes]


def children(pid: int) -> list[int]:
    """The direct child processes of ``pid``."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


@contextlib.contextmanager
def system_under_test(
    name: str, fake_port: int, log: IO[str]
) -> Iterator[tuple[System, list[int]]]:
    """Start the relay or the service against the fake on ``fake_port``; yields the system and
    its processes' pids (the first is the one to profile).

    ``service-2w`` runs two worker processes (``WORKERS=2``); its CPU is the sum over the
    supervising process and both workers (``service-client-2w`` likewise). Every service but
    ``service-client*`` runs the turn-based model the relay configures, with upstream's server
    VAD; ``service-client`` runs the
    default streaming model with our own VAD's commits."""
    port = free_port()
    if name in {"relay", "relay-deflate", "relay-16k"}:
        upstream = f"ws://127.0.0.1:{fake_port}/v1/realtime?intent=transcription"
        args = [sys.executable, "-m", "bench.relay", "--port", str(port), "--key", KEY]
        args += ["--upstream", upstream] + (["--deflate"] if name == "relay-deflate" else [])
        # "relay-16k": clients send 16 kHz, which the relay resamples as the service does
        resample = name == "relay-16k"
        rate = 16_000 if resample else 24_000
        args += ["--resample"] if resample else []

        with started(args, log) as process:
            wait_line(process, "ready", 30)
            yield System(name, f"ws://127.0.0.1:{port}/", rate, service=False), [process.pid]
        return

    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "OPENAI_"))}
    # the tone benchmark's services use upstream's VAD (a tone is no speech to our Silero VAD);
    # "service-client" keeps the default streaming model with our VAD's commits
    if not name.startswith("service-client"):
        env["OPENAI_REALTIME_MODEL"] = SERVER_VAD_MODEL
    env |= {
        "ENGINE": "openai",
        "OPENAI_API_KEY": KEY,
        "OPENAI_BASE_URL": f"http://127.0.0.1:{fake_port}/v1",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LANGUAGE": "sv",
        "MAX_SESSIONS": "100000",
    }
    # "service-24k": clients send 24 kHz, so the service does not resample (shows what that costs)
    rate = 24_000 if name == "service-24k" else 16_000
    with tempfile.TemporaryDirectory() as empty:  # no .env of anyone's there
        args = [sys.executable, "-m", "realtime_stt"]
        two = name.endswith("-2w")
        env["WORKERS"] = "2" if two else "1"
        with started(args, log, env=env, cwd=Path(empty)) as process:
            wait_healthy(port, 60)
            workers = children(process.pid) if two else []
            url = f"ws://127.0.0.1:{port}/ws?language=sv&sample_rate={rate}"
            yield System(name, url, rate, service=True), [*workers, process.pid]


def wait_for_quiet(limit_s: float, threshold: float = 10.0, quiet_s: float = 6.0) -> None:
    """Wait (at most ``limit_s``) for ``quiet_s`` seconds in a row in which the machine's other
    work uses less than ``threshold`` % of one core."""
    start = last_at = quiet_since = time.monotonic()
    last_busy = machine_busy()[0]
    while True:
        time.sleep(1.0)
        busy, now = machine_busy()[0], time.monotonic()
        load = 100 * (busy - last_busy) / (now - last_at)
        last_busy, last_at = busy, now
        if load >= threshold:
            quiet_since = now
        elif now - quiet_since >= quiet_s:
            return
        if now - start >= limit_s:
            print(f"note: other work still uses {load:.0f} % of a core; going on", flush=True)
            return


def machine() -> str:
    """nproc, CPU model, RAM, Python and date, for the record."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line),
        "?",
    )
    memory = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{os.cpu_count()} CPUs ({model}), {int(memory) / 1024**2:.1f} GiB RAM, "
        f"Python {platform.python_version()}, {now}"
    )


def uptime() -> str:
    """The load averages, to note other work on the machine."""
    return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])
