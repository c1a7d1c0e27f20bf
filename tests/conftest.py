"""Shared fixtures: speech fixtures, settings, apps through the real ASGI stack, a real server.

Two tiers: ``client``, ``client_factory`` and ``live_server_factory`` serve the fake engine
(:class:`tests.scripted_engine.ScriptedEngine`, no model); ``model_client``,
``model_client_factory`` and ``model_server_factory`` serve the real local engine. A test that
uses a fixture named ``model_*`` is marked ``model`` here; a test that loads the model otherwise
(its own engine, the service in a process of its own) carries the mark itself, and
:func:`tier_guard` fails one that loads it in this process without. ``pytest -m "not
model"`` runs the fast tier alone.
"""

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
from realtime_stt.engine.protocol import TranscriptionEngine
from realtime_stt.server import uvicorn_config
from realtime_stt.settings import Settings
from tests.scripted_engine import ScriptedEngine

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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``model`` every test that uses, directly or through another fixture, a fixture named
    ``model_*`` (one that serves the real local engine), so ``-m "not model"`` leaves it out."""
    for item in items:
        if any(name.startswith("model_") for name in getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.model)


def whisper_loads() -> int:
    """How often this process has loaded or reused a Whisper model so far (0 before the local
    engine's module is imported)."""
    module = sys.modules.get("realtime_stt.local.engine")
    if module is None:
        return 0
    info = module.load_whisper.cache_info()
    return int(info.hits + info.currsize)


@pytest.fixture(autouse=True)
def tier_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test outside the ``model`` tier that loads the Whisper model in this process, so
    the fast tier stays fast and the marker stays true."""
    before = whisper_loads()
    yield
    if request.node.get_closest_marker("model") is None:
        assert whisper_loads() == before, "this test loads the Whisper model: mark it model"


def fast_tier_engine(
    scripted: ScriptedEngine | None, overrides: dict[str, Any]
) -> TranscriptionEngine | None:
    """The engine a fast-tier app serves: ``scripted``, else the one the overrides name with
    ``engine=`` (``None``: the app builds it), else a fresh :class:`ScriptedEngine`."""
    if scripted is None and "engine" in overrides:
        return None
    return scripted or ScriptedEngine()


def build_client(engine: TranscriptionEngine | None, overrides: dict[str, Any]) -> TestClient:
    """A started TestClient of an app with the test settings and ``overrides``, serving
    ``engine`` (``None``: the engine the settings name), once ``/healthz`` says ready."""
    client = TestClient(create_app(make_settings(**overrides), engine))
    client.__enter__()
    try:
        wait_ready(client)
    except BaseException:
        client.__exit__(None, None, None)
        raise
    return client


@pytest.fixture
def client_factory() -> Iterator[Callable[..., TestClient]]:
    """Ready TestClients of apps with the given settings overrides, serving the fake engine
    (``scripted``, a fresh :class:`ScriptedEngine` by default), or the engine the overrides
    name with ``engine=``; closed after."""
    clients: list[TestClient] = []

    def build(scripted: ScriptedEngine | None = None, **overrides: Any) -> TestClient:
        clients.append(build_client(fast_tier_engine(scripted, overrides), overrides))
        return clients[-1]

    yield build
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(client_factory: Callable[..., TestClient]) -> TestClient:
    """A ready TestClient of the fake engine with default test settings."""
    return client_factory()


@pytest.fixture
def model_client_factory() -> Iterator[Callable[..., TestClient]]:
    """Ready TestClients of apps serving the real local engine with the given settings
    overrides (the model is loaded once per process and configuration)."""
    clients: list[TestClient] = []

    def build(**overrides: Any) -> TestClient:
        clients.append(build_client(None, overrides))
        return clients[-1]

    yield build
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def model_client(model_client_factory: Callable[..., TestClient]) -> TestClient:
    """A ready TestClient of the real local engine with default test settings."""
    return model_client_factory()


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


def start_live_server(engine: TranscriptionEngine | None, overrides: dict[str, Any]) -> LiveServer:
    """A real server for the test settings and ``overrides`` serving ``engine`` (``None``: the
    settings' engine), once ``/healthz`` says ready."""
    import httpx

    settings = make_settings(**overrides)
    server = LiveServer(create_app(settings, engine), settings).__enter__()
    try:
        deadline = time.monotonic() + 60
        while httpx.get(server.http_url + "/healthz").status_code != 200:
            assert time.monotonic() < deadline, "engine did not become ready"
            time.sleep(0.05)
    except BaseException:
        server.__exit__()
        raise
    return server


@pytest.fixture
def live_server_factory() -> Iterator[Callable[..., LiveServer]]:
    """Start real servers with the given settings overrides, serving the fake engine
    (``scripted``, a fresh :class:`ScriptedEngine` by default), or the engine the overrides name
    with ``engine=``; stopped after."""
    servers: list[LiveServer] = []

    def start(scripted: ScriptedEngine | None = None, **overrides: Any) -> LiveServer:
        servers.append(start_live_server(fast_tier_engine(scripted, overrides), overrides))
        return servers[-1]

    yield start
    for server in servers:
        server.__exit__()


@pytest.fixture
def model_server_factory() -> Iterator[Callable[..., LiveServer]]:
    """Start real servers of the real local engine with the given settings overrides."""
    servers: list[LiveServer] = []

    def start(**overrides: Any) -> LiveServer:
        servers.append(start_live_server(None, overrides))
        return servers[-1]

    yield start
    for server in servers:
        server.__exit__()
