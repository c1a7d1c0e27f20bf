"""What the browser client's end-to-end tests share: the real server, the test pages' site, the
headless Chromium context, and the scripts and checks the pages run.

Pages are served from another origin (``http://localhost:<port>``) than the server
(``http://127.0.0.1:<port>``), as a Lovable app would be: the plain page only imports
``<server>/client.js``; the React page is built by Vite from a fresh build of the package and
uses ``useTranscription``. The fake microphone plays en_weather (1 s of silence, the sentence,
2 s of silence, looped).
"""

from __future__ import annotations

import functools
import http.server
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from realtime_stt.app import create_app
from tests.chromium import chromium
from tests.conftest import LiveServer, make_settings

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

CLIENT_DIR = Path(__file__).parent.parent / "clients" / "js"
TOKEN = "s3cret-token"
SENTENCE = "Tomorrow the weather will be sunny with a light wind from the north."
LAST_WORD = "north"

# Records every WebSocket's open and close (with its code and time) before the page's own handlers.
SOCKET_LOG = """(() => {
  const Native = window.WebSocket;
  window.socketLog = [];
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      const log = (entry) => window.socketLog.push({ ...entry, at: performance.now() });
      this.addEventListener("open", () => log({ event: "open" }));
      this.addEventListener("close", (e) => log({ event: "close", code: e.code }));
    }
  };
})();"""

MODULE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>client.js</title>
<link rel="icon" href="data:,"></head>
<body><script type="module">
import { RealtimeTranscriber } from "{backend}/client.js";
window.RealtimeTranscriber = RealtimeTranscriber;
</script></body></html>
"""

# Starts a transcriber and records its events; `window.t`, `window.events`, `window.levels`.
START = """async ({ backend, token }) => {
  const t = new RealtimeTranscriber({ url: backend, language: "en", token });
  window.t = t;
  window.events = [];
  window.levels = [];
  for (const type of ["ready", "speechstart", "partial", "final", "error", "state"]) {
    t.addEventListener(type, (e) => {
      const detail = e.detail instanceof Error ? { ...e.detail.toJSON(), isError: true } : e.detail;
      window.events.push({ type, detail, at: performance.now() });
    });
  }
  t.addEventListener("level", (e) => window.levels.push(e.detail));
  const began = performance.now();
  try {
    const ready = await t.start();
    return { ok: true, ready, ms: performance.now() - began };
  } catch (err) {
    const emitted = window.events.filter((e) => e.type === "error");
    return {
      ok: false,
      ms: performance.now() - began,
      error: err.toJSON(),
      isTranscriberError: err.name === "TranscriberError" && err instanceof Error,
      sameAsEvent: t.error === err,
      errorEvents: emitted.length,
      state: t.state,
    };
  }
}"""

# Resolves once a final holding `word` came (or rejects after 60 s).
FINAL_WITH = """(word) => new Promise((resolve, reject) => {
  const has = (f) => f.text.toLowerCase().includes(word);
  const seen = window.events.find((e) => e.type === "final" && has(e.detail));
  if (seen) return resolve(seen.detail);
  const timer = setTimeout(() => reject(new Error(`no final with ${word}`)), 60000);
  window.t.addEventListener("final", (e) => {
    if (has(e.detail)) { clearTimeout(timer); resolve(e.detail); }
  });
})"""

FIRST_PARTIAL = """() => new Promise((resolve, reject) => {
  const seen = window.events.find((e) => e.type === "partial" && e.detail.text.trim());
  if (seen) return resolve(seen.detail);
  const timer = setTimeout(() => reject(new Error("no partial")), 60000);
  window.t.addEventListener("partial", (e) => {
    if (e.detail.text.trim()) { clearTimeout(timer); resolve(e.detail); }
  });
})"""

STOP = """async () => {
  const calledAt = performance.now();
  const finals = await window.t.stop();
  return { finals, calledAt, resolvedAt: performance.now(), state: window.t.state,
           transcript: window.t.transcript, sockets: window.socketLog };
}"""


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def share_of_words(reference: str, heard: str) -> float:
    """How many of ``reference``'s words ``heard`` has (each heard word counts once)."""
    pool = words(heard)
    found = 0
    for word in words(reference):
        if word in pool:
            pool.remove(word)
            found += 1
    return found / len(words(reference))


def close_before(sockets: list[dict[str, Any]], resolved_at: float) -> dict[str, Any]:
    """The socket's close entry, checked to be a normal close (1000) before ``resolved_at``."""
    closes = [entry for entry in sockets if entry["event"] == "close"]
    assert closes, sockets
    assert closes[-1]["code"] == 1000, sockets
    assert closes[-1]["at"] <= resolved_at, (closes, resolved_at)
    return closes[-1]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def model_server() -> Iterator[LiveServer]:
    """A real server (local engine, English) that requires ``TOKEN``; its tests are in the
    ``model`` tier."""
    settings = make_settings(api_token=TOKEN)
    live = LiveServer(create_app(settings), settings).__enter__()
    try:
        deadline = time.monotonic() + 60
        while httpx.get(live.http_url + "/healthz").status_code != 200:
            assert time.monotonic() < deadline, "engine did not become ready"
            time.sleep(0.05)
        yield live
    finally:
        live.__exit__()


@dataclass(frozen=True)
class Site:
    """The static server for the test pages: its base URL and the folder it serves."""

    url: str
    root: Path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, model_server: LiveServer) -> Iterator[Site]:
    """A static server on another origin holding the plain page (``/module.html``)."""
    root = tmp_path_factory.mktemp("site")
    (root / "module.html").write_text(MODULE_PAGE.replace("{backend}", model_server.http_url))
    handler = functools.partial(QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site(f"http://localhost:{httpd.server_address[1]}", root)
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[BrowserContext]:
    with chromium(tmp_path, ("--autoplay-policy=no-user-gesture-required",)) as context:
        context.add_init_script(SOCKET_LOG)
        yield context
