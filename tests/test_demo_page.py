"""The demo page at ``GET /``: served by the app, and working end to end in headless Chromium."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.chromium import chromium

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

ARTIFACTS = Path(__file__).parent / "artifacts"
KEY_WORDS = ("weather", "sunny", "north")


class LiveServer(Protocol):
    """What these tests use of conftest's ``LiveServer``."""

    @property
    def http_url(self) -> str: ...


def test_page_and_assets_are_served(client_factory: Callable[..., TestClient]) -> None:
    """``GET /`` returns the demo page, and the script, client module, worklet and stylesheet."""
    client = client_factory()
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="app.js">' in page.text
    assert 'href="style.css"' in page.text
    assert 'id="toggle"' in page.text
    for asset, kind in [
        ("app.js", "text/javascript"),
        ("client.js", "text/javascript"),
        ("pcm-worklet.js", "text/javascript"),
        ("style.css", "text/css"),
    ]:
        response = client.get(f"/{asset}")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(kind)
    worklet = client.get("/pcm-worklet.js")
    assert 'registerProcessor("pcm-downsampler"' in worklet.text
    # The page is the client module's first user, and imports it as any front end would.
    assert 'from "./client.js"' in client.get("/app.js").text
    assert "export {" in client.get("/client.js").text


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[BrowserContext]:
    """Headless Debian Chromium with a fresh profile whose microphone plays en_weather."""
    with chromium(tmp_path) as context:
        yield context


def test_browser_transcribes_microphone(
    model_server_factory: Callable[..., LiveServer], browser: BrowserContext
) -> None:
    """In Chromium, Start streams the microphone and the final transcript appears on the page."""
    server = model_server_factory()
    page = browser.new_page()
    page.goto(server.http_url + "/")
    page.select_option("#language", "en")
    page.click("#toggle")
    page.wait_for_function(
        "() => document.querySelector('#finals').textContent.toLowerCase().includes('sunny')",
        timeout=60_000,
    )
    page.click("#toggle")
    page.wait_for_selector("#state[data-state='idle']", timeout=30_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "demo-page.png"), full_page=True)

    finals = page.locator("#finals li").all_inner_texts()
    transcript = " ".join(finals).lower()
    for word in KEY_WORDS:
        assert word in transcript, finals
    assert re.match(r"\[\d+\.\d\d\u2013\d+\.\d\d\] \S", finals[0]), finals
    assert "local" in page.inner_text("#engine")
    assert page.locator("#error").is_hidden()


# Renders one second of a sine of amplitude 0.5 at `rate` through the worklet, offline, and
# returns the 16 kHz PCM16 frames it posted (the last one after "flush").
RENDER_SINE = """async ([rate, frequency]) => {
  const ctx = new OfflineAudioContext(1, rate, rate);
  await ctx.audioWorklet.addModule("pcm-worklet.js");
  const node = new AudioWorkletNode(ctx, "pcm-downsampler", {
    processorOptions: { targetRate: 16000, frameMs: 100 },
  });
  const frames = [];
  const flushed = new Promise((resolve) => {
    node.port.onmessage = (e) => (e.data === "flushed" ? resolve() : frames.push(e.data));
  });
  const sine = new OscillatorNode(ctx, { frequency });
  sine.connect(new GainNode(ctx, { gain: 0.5 })).connect(node).connect(ctx.destination);
  sine.start();
  await ctx.startRendering();
  node.port.postMessage("flush");
  await flushed;
  return frames.map((buffer) => Array.from(new Int16Array(buffer)));
}"""


@pytest.mark.parametrize("rate", [48_000, 44_100])
def test_worklet_downsamples_to_16k(
    live_server_factory: Callable[..., LiveServer], browser: BrowserContext, rate: int
) -> None:
    """The worklet makes 100 ms frames at 16 kHz with no seams, and damps what would alias."""
    page = browser.new_page()
    page.goto(live_server_factory().http_url + "/")
    frames: list[list[int]] = page.evaluate(RENDER_SINE, [rate, 440])
    assert {len(frame) for frame in frames[:-1]} == {1600}
    samples = np.array([s for frame in frames for s in frame], np.float64) / 32768
    assert abs(samples.size - 16_000) <= 32
    # The best-fitting 440 Hz sinusoid leaves only rounding noise: no sample lost or repeated.
    t = np.arange(samples.size) / 16_000
    basis = np.stack([np.sin(2 * np.pi * 440 * t), np.cos(2 * np.pi * 440 * t)], axis=1)
    coef, *_ = np.linalg.lstsq(basis[160:], samples[160:], rcond=None)
    residual = samples[160:] - basis[160:] @ coef
    assert np.hypot(*coef) == pytest.approx(0.5, rel=0.01)
    assert np.sqrt(np.mean(residual**2)) < 1e-3
    # 12 kHz is above the new Nyquist: averaging leaves about a third of it (dropping: all).
    high: list[list[int]] = page.evaluate(RENDER_SINE, [rate, 12_000])
    aliased = np.array([s for frame in high for s in frame], np.float64)[160:] / 32768
    assert np.sqrt(np.mean(aliased**2)) < 0.4 * 0.5 / np.sqrt(2)
