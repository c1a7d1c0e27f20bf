"""The ``python -m realtime_stt.client`` command against a real server on loopback."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
import pytest
import soxr

from realtime_stt.client import load_wav

KEY_WORDS = ("weather", "sunny", "north")
SAMPLE_RATE = 16_000
WEATHER = Path(__file__).parent / "fixtures" / "en_weather.wav"


class LiveServer(Protocol):
    """What these tests use of conftest's ``LiveServer``."""

    @property
    def ws_url(self) -> str: ...


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the client as a subprocess and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "realtime_stt.client", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


def write_wav(path: Path, samples: np.ndarray, rate: int, width: int) -> None:
    """Write float samples in [-1, 1] (frames x channels) as a PCM WAV of ``width`` bytes."""
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    full_scale = 2 ** (8 * width - 1) - 1
    scaled = np.round(samples.reshape(-1).astype(np.float64) * full_scale).astype("<i4")
    if width == 1:
        raw = (scaled + 128).astype(np.uint8).tobytes()
    else:  # the low `width` bytes of each little-endian int32
        raw = scaled.view(np.uint8).reshape(-1, 4)[:, :width].tobytes()
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(raw)


def weather_float() -> np.ndarray:
    """The en_weather fixture (16 kHz mono) as float32 samples."""
    with wave.open(str(WEATHER)) as wav:
        raw = wav.readframes(wav.getnframes())
    return np.frombuffer(raw, "<i2").astype(np.float32) / 32768


def assert_key_words(text: str) -> None:
    """The weather sentence's key words all appear in ``text``."""
    lowered = text.lower()
    missing = [word for word in KEY_WORDS if word not in lowered]
    assert not missing, f"missing {missing} in {text!r}"


@pytest.fixture
def server(model_server_factory: Callable[..., LiveServer]) -> LiveServer:
    """A live server with the default test settings (local engine, English): these tests read
    what it heard."""
    return model_server_factory()


def test_prints_finals_and_exits_zero(server: LiveServer) -> None:
    """A WAV file is transcribed: each final is a ``[start-end] text`` line and the exit is 0."""
    result = run_cli(str(WEATHER), "--url", server.ws_url, "--language", "en")
    assert result.returncode == 0, result.stderr
    assert_key_words(result.stdout)
    assert re.search(r"^\[\d+\.\d\d\u2013\d+\.\d\d\] \S", result.stdout, re.MULTILINE)
    assert "\r" not in result.stdout  # no partial line when stdout is not a terminal
    assert result.stderr == ""


def test_json_prints_every_message(server: LiveServer) -> None:
    """``--json`` prints each server message as one JSON line, from ready to the final."""
    result = run_cli(str(WEATHER), "--url", server.ws_url, "--language", "en", "--json")
    assert result.returncode == 0, result.stderr
    messages = [json.loads(line) for line in result.stdout.splitlines()]
    assert messages[0]["type"] == "ready"
    assert messages[0]["language"] == "en"
    finals = [m for m in messages if m["type"] == "final"]
    assert finals
    assert_key_words(" ".join(m["text"] for m in finals))


def test_stereo_44k_wav_is_converted(server: LiveServer, tmp_path: Path) -> None:
    """A stereo 44.1 kHz WAV is mixed to mono and resampled, giving the same words."""
    mono = soxr.resample(weather_float(), SAMPLE_RATE, 44_100)
    stereo = np.stack([mono, mono * 0.5], axis=1)
    path = tmp_path / "stereo.wav"
    write_wav(path, stereo, 44_100, 2)
    result = run_cli(str(path), "--url", server.ws_url, "--language", "en")
    assert result.returncode == 0, result.stderr
    assert_key_words(result.stdout)


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_load_wav_reads_every_sample_width(tmp_path: Path, width: int) -> None:
    """8, 16, 24 and 32-bit WAVs load as the same 16 kHz mono PCM16 audio."""
    original = weather_float()
    path = tmp_path / f"{width}.wav"
    write_wav(path, np.stack([original, original], axis=1), SAMPLE_RATE, width)
    loaded = load_wav(path).astype(np.float32) / 32768
    assert loaded.shape == original.shape
    tolerance = 2 / 128 if width == 1 else 2 / 32768
    assert np.max(np.abs(loaded - original)) <= tolerance


def test_unreachable_server_exits_2() -> None:
    """Nothing listening at ``--url``: exit 2 and one line saying the server cannot be reached."""
    with socket.socket() as sock:  # a port that was free a moment ago, now closed again
        sock.bind(("127.0.0.1", 0))
        url = f"ws://127.0.0.1:{sock.getsockname()[1]}/ws"
    result = run_cli(str(WEATHER), "--url", url)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: cannot reach {url}")
    assert len(result.stderr.splitlines()) == 1


def test_unreadable_file_exits_2(tmp_path: Path) -> None:
    """A file that is not a WAV: exit 2 and a message naming it, before any connection."""
    path = tmp_path / "notes.txt"
    path.write_text("not audio")
    result = run_cli(str(path), "--url", "ws://127.0.0.1:9/ws")
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: cannot read {path}")


def test_server_errors_exit_1(live_server_factory: Callable[..., LiveServer]) -> None:
    """A refused handshake and a server ``error`` message both give exit 1 and a clear line."""
    server = live_server_factory(api_token="secret")
    refused = run_cli(str(WEATHER), "--url", server.ws_url)
    assert refused.returncode == 1
    assert refused.stderr.strip() == "error: server refused the connection: HTTP 403"

    bad_language = run_cli(
        str(WEATHER), "--url", f"{server.ws_url}?token=secret", "--language", "e1"
    )
    assert bad_language.returncode == 1
    assert bad_language.stderr.startswith("error: invalid_language: ")
    assert len(bad_language.stderr.splitlines()) == 1
