"""Headless Debian Chromium for the browser tests, its microphone faked from a WAV file."""

from __future__ import annotations

import shutil
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

FIXTURES = Path(__file__).parent / "fixtures"
CHROMIUM = Path("/usr/bin/chromium")


def fake_microphone_wav(path: Path) -> None:
    """en_weather with 1 s of silence before and 2 s after: what the fake microphone plays."""
    with wave.open(str(FIXTURES / "en_weather.wav")) as source:
        params = source.getparams()
        speech = source.readframes(source.getnframes())
    rate = params.framerate
    with wave.open(str(path), "wb") as out:
        out.setparams(params)
        out.writeframes(b"\0\0" * rate + speech + b"\0\0" * 2 * rate)


@contextmanager
def chromium(
    tmp_path: Path, extra_args: tuple[str, ...] = (), *, grant_microphone: bool = True
) -> Iterator[BrowserContext]:
    """A fresh Chromium profile in ``tmp_path`` whose microphone plays en_weather (looped).

    Pages get the microphone without a prompt, or with ``grant_microphone=False`` are refused it
    (headless Chromium denies what it would have to ask).
    """
    if shutil.which(str(CHROMIUM)) is None:
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-browser.sh (apt-get chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is missing: pip install playwright (no browser needed)")
    audio = tmp_path / "microphone.wav"
    fake_microphone_wav(audio)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            user_data_dir=str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            viewport={"width": 900, "height": 560},
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                *(["--use-fake-ui-for-media-stream"] if grant_microphone else []),
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={audio}",
                *extra_args,
            ],
        )
        try:
            yield context
        finally:
            context.close()
