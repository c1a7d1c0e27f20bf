"""The slim and full installs, each from its lock file in a fresh venv: checks, size and idle RSS.

``python -m bench.install_footprint [--workdir DIR] [--keep]`` (``make install-check``) needs the
package registry (it installs about 40 and 50 packages), so it is not part of ``make test``. For
each variant it creates a venv, installs the lock file with hashes and then the project itself
without dependencies, as the README's install section does:

* **slim**: ``requirements.txt``, no extra. It checks that ``import realtime_stt.openai_engine``
  works with neither faster-whisper nor CTranslate2 installed and that the VAD's model is the one
  this package ships; that ``ENGINE=local``, and ``ENGINE=auto`` without ``OPENAI_API_KEY``, stop
  start-up with status 2 and a line naming the extra; then it serves ``ENGINE=openai`` against
  the strict OpenAI fake (:mod:`tests.openai_fake`, the default streaming model, so our VAD
  commits), streams two sentences and checks their finals.
* **full**: ``requirements-local.txt`` (the ``local`` extra), the model assembled as
  ``make install`` does; it serves ``ENGINE=local`` and checks the final of a recorded sentence.

Reported per variant: the size of the venv's ``site-packages`` and of the whole venv (which for
the full install also holds the assembled model), and the service's ``VmRSS`` once
``/healthz`` answers 200 (the engine started and warmed up; the local model loaded) and
:data:`SETTLE_S` seconds passed with no session, then again after its one session ended.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from tests.conftest import free_port, silence, speech
from tests.openai_fake import FakeRealtimeServer, Scenario
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
SETTLE_S = 5.0
"""Seconds the service idles after it is ready before its RSS is read."""
EXTRA_HINT = "pip install 'realtime-stt[local]'"
HEAVY = ("faster_whisper", "ctranslate2")


@dataclass
class Footprint:
    """One variant's numbers."""

    variant: str
    site_packages_mib: float
    venv_mib: float
    idle_rss_mib: float
    after_session_rss_mib: float


def mib_on_disk(path: Path) -> float:
    """The apparent size of every file under ``path``, in MiB."""
    total = sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    return total / 2**20


def rss_mib(pid: int) -> float:
    """The process's resident set (``VmRSS``), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    msg = f"no VmRSS for {pid}"
    raise RuntimeError(msg)


def make_venv(target: Path, lock: str) -> Path:
    """A fresh venv at ``target`` with ``lock`` installed (hashes required), then the project
    without dependencies; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(target)], check=True)
    python = target / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--require-hashes", "-r", str(ROOT / lock)], check=True)
    subprocess.run([*pip, "--no-deps", str(ROOT)], check=True)
    subprocess.run([str(python), "-m", "pip", "check"], check=True)
    return python


def site_packages(python: Path) -> Path:
    """The venv's ``site-packages`` directory."""
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    out = subprocess.run([str(python), "-c", code], check=True, capture_output=True, text=True)
    return Path(out.stdout.strip())


def service_env(**settings: str) -> dict[str, str]:
    """A clean environment for the service: none of this shell's settings, only ``settings``."""
    return {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/"), **settings}


def check_refused(python: Path, workdir: Path, expect: tuple[str, ...], **settings: str) -> str:
    """Start the service with ``settings``; it must exit with status 2 and a line holding each
    of ``expect``. Returns that line."""
    done = subprocess.run(
        [str(python), "-m", "realtime_stt"],
        env=service_env(**settings),
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    line = done.stderr.strip()
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert all(part in line for part in expect), line
    return line


def check_slim_imports(python: Path) -> None:
    """The OpenAI engine and its VAD work without the Whisper runtime."""
    code = (
        "import importlib.util, sys\n"
        "import realtime_stt, realtime_stt.openai_engine\n"
        "from realtime_stt.local.vad import model_path\n"
        "from realtime_stt.openai_engine.vad_batch import batched_model\n"
        f"heavy = {HEAVY!r}\n"
        "assert all(importlib.util.find_spec(m) is None for m in heavy), 'not slim'\n"
        "assert batched_model() is not None\n"
        "assert model_path().is_relative_to(realtime_stt.__path__[0]), model_path()\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in heavy]\n"
    )
    subprocess.run([str(python), "-c", code], check=True, timeout=120)


@contextmanager
def service(python: Path, workdir: Path, **settings: str) -> Iterator[tuple[int, int]]:
    """The service in a child process until ``/healthz`` answers 200: (its pid, its port)."""
    port = free_port()
    env = service_env(HOST="127.0.0.1", PORT=str(port), **settings)
    process = subprocess.Popen(
        [str(python), "-m", "realtime_stt"],
        env=env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, f"the service exited with {process.returncode}"
            assert time.monotonic() < deadline, "the service did not become ready"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield process.pid, port
    finally:
        process.terminate()
        process.wait(timeout=30)


async def stream(port: int, language: str, audio: bytes) -> list[str]:
    """One session: ``audio`` in 100-ms frames, then ``end``; the finals' texts."""
    finals: list[str] = []
    async with connect(f"ws://127.0.0.1:{port}/ws?language={language}") as ws:
        for start in range(0, len(audio), 3200):
            await ws.send(audio[start : start + 3200])
        await ws.send(json.dumps({"type": "end"}))
        async for raw in ws:
            message = json.loads(raw)
            assert message["type"] != "error", message
            if message["type"] == "final":
                finals.append(message["text"])
    return finals


def measure_service(
    variant: str, python: Path, workdir: Path, language: str, audio: bytes, **settings: str
) -> tuple[float, float, list[str]]:
    """Idle RSS once ready, the finals of one session, and RSS after it."""
    with service(python, workdir, LANGUAGE=language, **settings) as (pid, port):
        time.sleep(SETTLE_S)
        idle = rss_mib(pid)
        finals = asyncio.run(stream(port, language, audio))
        after = rss_mib(pid)
    print(f"{variant}: finals {finals}", flush=True)
    return idle, after, finals


def slim(workdir: Path) -> Footprint:
    """Install, check and measure the slim variant."""
    python = make_venv(workdir / "slim", "requirements.txt")
    check_slim_imports(python)
    line = check_refused(python, workdir, ("ENGINE=local", EXTRA_HINT), ENGINE="local")
    print(f"slim, ENGINE=local: {line}", flush=True)
    expect = ("ENGINE=auto", EXTRA_HINT, "OPENAI_API_KEY")
    line = check_refused(python, workdir, expect, ENGINE="auto")
    print(f"slim, ENGINE=auto without a key: {line}", flush=True)

    pause = silence(2.0)
    audio = pause + speech("en_weather") + pause + speech("sv_city") + pause

    async def against_fake() -> tuple[float, float, list[str], list[str]]:
        async with FakeRealtimeServer(Scenario()) as fake:
            idle, after, finals = await asyncio.to_thread(
                measure_service,
                "slim",
                python,
                workdir,
                "sv",
                audio,
                ENGINE="openai",
                OPENAI_API_KEY=fake.scenario.api_key,
                OPENAI_BASE_URL=fake.base_url,
            )
            return idle, after, finals, [turn.text for turn in fake.turns]

    idle, after, finals, expected = asyncio.run(against_fake())
    assert finals == expected, (finals, expected)
    assert len(finals) >= 2
    return Footprint(
        "slim", mib_on_disk(site_packages(python)), mib_on_disk(python.parent.parent), idle, after
    )


def full(workdir: Path) -> Footprint:
    """Install, check and measure the full variant."""
    python = make_venv(workdir / "full", "requirements-local.txt")
    subprocess.run([str(python), "-m", "realtime_stt.local.assets"], check=True)
    audio = speech("en_fox") + silence(1.0)
    idle, after, finals = measure_service("full", python, workdir, "en", audio, ENGINE="local")
    assert "fox" in " ".join(finals).lower(), finals
    return Footprint(
        "full", mib_on_disk(site_packages(python)), mib_on_disk(python.parent.parent), idle, after
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, help="where the venvs go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the venvs afterwards")
    args = parser.parse_args()
    workdir: Path = args.workdir or Path(tempfile.mkdtemp(prefix="realtime-stt-installs-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        rows = [slim(workdir), full(workdir)]
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(
        "| install | site-packages (MiB) | whole venv (MiB) | idle RSS (MiB) "
        "| RSS after a session (MiB) |"
    )
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row.variant} | {row.site_packages_mib:.0f} | {row.venv_mib:.0f} "
            f"| {row.idle_rss_mib:.0f} | {row.after_session_rss_mib:.0f} |"
        )


if __name__ == "__main__":
    main()
