"""Shared fixtures: speech fixtures, settings, apps through the real ASGI stack, a real server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from realtime_stt.app import create_app
from realtime_stt.server import uvicorn_config
from realtime_stt.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE_RATE = 16_000


def speech(name: str) -> bytes:
    """The PCM16 bytes of ``tests/fixtures/<name>.wav`` (16 kHz mono)."""
    with wave.open(str(FIXTURES / f"{name}.wav")) as wav:
        assert wav.getframerate() == SAMPLE_RATE
        assert wav.getnchannels() == 1
        frames: bytes = wav.readframes(wav.getnframes())
        return frames


def silence(seconds: float) -> bytes:
    """Digital silence as PCM16 bytes."""
    return b"\0\0" * int(seconds * SAMPLE_RATE)


def make_settings(**overrides: Any) -> Settings:
    """Settings for tests: no ``.env``, the local engine, and the given overrides."""
    values: dict[str, Any] = {"engine": "local", "language": "en"}
    values.update(overrides)
    return Settings(_env_file=None, **values)


def wait_ready(client: TestClient, timeout: float = 60.0) -> None:
    """Poll ``/healthz`` until the engine is ready."""
    deadline = time.monotonic() + timeout
    while client.get("/healthz").status_code != 200:
        assert time.monotonic() < deadline, "engine did not become ready"
        time.sleep(0.05)


@pytest.fixture
def client_factory() -> Iterator[Callable[..., TestClient]]:
    """Build ready TestClients for apps with the given settings overrides; closes them after."""
    clients: list[TestClient] = []

    def build(**overrides: Any) -> TestClient:
        client = TestClient(create_app(make_settings(**overrides)))
        client.__enter__()
        clients.append(client)
        wait_ready(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(client_factory: Callable[..., TestClient]) -> TestClient:
    """A ready TestClient with default test settings."""
    return client_factory()


class LiveServer:
    """A real uvicorn server on a free loopback port, in a thread of this process, configured as
    the service configures its own (:func:`realtime_stt.server.uvicorn_config`)."""

    def __init__(
        self,
        app: FastAPI,
        settings: Settings,
        make_server: Callable[[uvicorn.Config], uvicorn.Server] = uvicorn.Server,
    ) -> None:
        self.port = free_port()
        config = uvicorn_config(
            app, settings, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = make_server(config)

        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def spawn_service(port: int, **env: str) -> subprocess.Popen[bytes]:
    """``python -m realtime_stt`` in a child process on ``port``: the local engine, English,
    and ``env`` on top of this process's environment; its output is discarded."""
    return subprocess.Popen(
        [sys.executable, "-m", "realtime_stt"],
        env={**os.environ, "PORT": str(port), "ENGINE": "local", "LANGUAGE": "en", **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def healthy(port: int) -> bool:
    """Whether the server on ``port`` answers ``/healthz`` with 200 (engine ready)."""
    import httpx

    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def live_server_factory() -> Iterator[Callable[..., LiveServer]]:
    """Start real servers with the given settings overrides; waits until each engine is ready."""
    import httpx

    servers: list[LiveServer] = []

    def start(**overrides: Any) -> LiveServer:
        settings = make_settings(**overrides)
        server = LiveServer(create_app(settings), settings).__enter__()
        servers.append(server)
        deadline = time.monotonic() + 60
        while httpx.get(server.http_url + "/healthz").status_code != 200:
            assert time.monotonic() < deadline, "engine did not become ready"
            time.sleep(0.05)
        return server

    yield start
    for server in servers:
        server.__exit__()
