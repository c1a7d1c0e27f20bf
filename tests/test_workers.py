"""``WORKERS=2``: two server processes on one port, supervised, each draining on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.conftest import free_port, healthy, spawn_service, speech

pytestmark = pytest.mark.model  # each worker process loads the local engine's model

WORKERS = 2


def children(pid: int) -> list[int]:
    """The live worker processes of the parent ``pid``."""
    found = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        if b"multiprocessing.spawn" in cmdline and b"resource_tracker" not in cmdline:
            found.append(int(child))
    return found


def wait_for(condition: str, check: Callable[[], bool], timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting until {condition}"
        time.sleep(0.1)


@pytest.fixture
def service() -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``python -m realtime_stt`` with two workers (one decode thread each), ready to serve."""
    port = free_port()
    process = spawn_service(port, WORKERS=str(WORKERS), LOCAL_WORKERS="1", LOCAL_CPU_THREADS="1")
    try:
        wait_for("both workers run", lambda: len(children(process.pid)) == WORKERS)
        wait_for("a worker is ready", lambda: healthy(port))
        yield process, port
    finally:
        for pid in children(process.pid) if process.poll() is None else []:
            os.kill(pid, signal.SIGKILL)
        process.kill()
        process.wait()


@contextmanager
def open_session(port: int) -> Iterator[ClientConnection]:
    """A session that has been given speech and has started an utterance."""
    deadline = time.monotonic() + 90
    while True:  # the other worker may still be loading its model (close 1013)
        with connect(f"ws://127.0.0.1:{port}/ws?language=en") as ws:
            if json.loads(ws.recv())["type"] == "ready":
                audio = speech("en_weather")
                for start in range(0, len(audio), 3200):
                    ws.send(audio[start : start + 3200])
                while json.loads(ws.recv())["type"] != "speech_started":
                    pass
                yield ws
                return
        assert time.monotonic() < deadline, "no worker took the session"
        time.sleep(0.2)


def until_closed(ws: ClientConnection) -> tuple[list[dict[str, object]], int | None]:
    messages: list[dict[str, object]] = []
    with pytest.raises(ConnectionClosed) as closed:
        messages.extend(json.loads(str(raw)) for raw in iter(ws.recv, None))
    return messages, None if closed.value.rcvd is None else closed.value.rcvd.code


class TestWorkers:
    def test_sigterm_drains_every_workers_sessions_then_the_service_exits(
        self, service: tuple[subprocess.Popen[bytes], int]
    ) -> None:
        """On SIGTERM every open session, whichever worker holds it, gets its final and a 1001
        close; then the workers and the parent exit, with status 0."""
        process, port = service
        workers = children(process.pid)
        with ExitStack() as stack:
            sessions = [stack.enter_context(open_session(port)) for _ in range(3)]
            process.send_signal(signal.SIGTERM)
            results = [until_closed(ws) for ws in sessions]
        for messages, code in results:
            finals = [m for m in messages if m["type"] == "final"]
            assert finals, messages
            assert "sunny" in str(finals[-1]["text"]).lower()
            assert code == 1001
        assert process.wait(timeout=40) == 0
        assert not any(Path(f"/proc/{pid}").exists() for pid in workers)

    def test_a_worker_that_dies_is_replaced(
        self, service: tuple[subprocess.Popen[bytes], int]
    ) -> None:
        """A killed worker is started again; the service keeps serving, then stops cleanly."""
        process, port = service
        first = children(process.pid)
        os.kill(first[0], signal.SIGKILL)
        wait_for(
            "a replacement worker runs",
            lambda: (
                len(set(children(process.pid)) - set(first)) == 1
                and len(children(process.pid)) == WORKERS
            ),
        )
        assert process.poll() is None
        wait_for("the service answers", lambda: healthy(port))
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=40) == 0
