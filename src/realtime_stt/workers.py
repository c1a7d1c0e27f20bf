"""``WORKERS`` > 1: several server processes on one listening socket, each draining on SIGTERM.

The parent binds ``HOST``:``PORT`` (so every worker accepts connections on the same socket, and
the kernel spreads them), starts ``WORKERS`` processes with multiprocessing's *spawn* method, each
running :func:`realtime_stt.server.serve` with its own app, engine and settings, and then only
supervises them:

- SIGTERM or SIGINT: every worker gets one SIGTERM and drains as a single server does (each open
  session gets its finals, then close 1001). The parent waits for them, kills what is still
  running after :data:`~realtime_stt.server.SHUTDOWN_GRACE_S` plus :data:`STOP_MARGIN_S`, and
  exits with status 0.
- A worker that exits while the service runs is replaced (at most once per
  :data:`RESTART_DELAY_S` for each worker slot). One that could not start serving (exit status
  :data:`~realtime_stt.server.STARTUP_FAILURE`: the app failed to start) stops the service with
  status 1 instead of being restarted forever.
- Workers leave the parent's process group, so a Ctrl-C in a terminal reaches only the parent,
  which passes it on once: a second signal would stop a worker without draining.

With the local engine each worker loads its own copy of the model (see the README's memory note).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import time
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from types import FrameType

from realtime_stt.server import SHUTDOWN_GRACE_S, STARTUP_FAILURE
from realtime_stt.settings import Settings, get_settings

log = logging.getLogger(__name__)
RESTART_DELAY_S = 1.0
STOP_MARGIN_S = 10.0
POLL_S = 0.2


@dataclass
class _Worker:
    process: BaseProcess
    started_at: float


def _run_worker(sock: socket.socket) -> None:
    """A worker's entry point (in a fresh interpreter): serve on the parent's socket."""
    os.setpgrp()
    from realtime_stt.server import serve  # noqa: PLC0415 - imported in the worker only

    serve(get_settings(), sock)


def _bind(settings: Settings) -> socket.socket:
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.create_server((settings.host, settings.port), family=family, backlog=2048)
    sock.set_inheritable(True)
    return sock


def serve_workers(settings: Settings) -> int:
    """Run ``settings.workers`` server processes until SIGTERM or SIGINT; returns the exit
    status (0 after a requested stop, 1 when a worker could not start)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    context = multiprocessing.get_context("spawn")
    stop_requested = False

    def request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stop_requested
        stop_requested = True

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    sock = _bind(settings)

    def start() -> _Worker:
        process = context.Process(target=_run_worker, args=(sock,), name="realtime-stt-worker")
        process.start()
        log.info("started worker %s", process.pid)
        return _Worker(process, time.monotonic())

    status = 0
    workers = [start() for _ in range(settings.workers)]
    try:
        while not stop_requested:
            time.sleep(POLL_S)
            for index, worker in enumerate(workers):
                if worker.process.is_alive() or stop_requested:
                    continue
                pid, code = worker.process.pid, worker.process.exitcode
                if code == STARTUP_FAILURE:
                    log.error("worker %s could not start; stopping", pid)
                    status, stop_requested = 1, True
                    break
                if time.monotonic() - worker.started_at >= RESTART_DELAY_S:
                    log.warning("worker %s exited (%s); starting another", pid, code)
                    workers[index] = start()
    finally:
        _stop(workers)
        sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status


def _stop(workers: list[_Worker]) -> None:
    """One SIGTERM to each worker, then wait for them to drain (bounded), then kill the rest."""
    for worker in workers:
        if worker.process.is_alive() and worker.process.pid is not None:
            os.kill(worker.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + SHUTDOWN_GRACE_S + STOP_MARGIN_S
    for worker in workers:
        worker.process.join(max(0.0, deadline - time.monotonic()))
        if worker.process.is_alive():
            log.error("worker %s did not stop in time; killing it", worker.process.pid)
            worker.process.kill()
            worker.process.join()
