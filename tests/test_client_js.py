"""The browser client (clients/js) end to end in headless Chromium, against a real server.

Pages are served from another origin (``http://localhost:<port>``) than the server
(``http://127.0.0.1:<port>``), as a Lovable app would be: the plain page only imports
``<server>/client.js``; the React page is built by Vite from a fresh build of the package and
uses ``useTranscription``. The fake microphone plays en_weather (1 s of silence, the sentence,
2 s of silence, looped).
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi.testclient import TestClient

from realtime_stt.app import create_app
from tests.chromium import chromium
from tests.conftest import LiveServer, free_port, make_settings

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

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
def server() -> Iterator[LiveServer]:
    """A real server (local engine, English) that requires ``TOKEN``."""
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
def site(tmp_path_factory: pytest.TempPathFactory, server: LiveServer) -> Iterator[Site]:
    """A static server on another origin holding the plain page (``/module.html``)."""
    root = tmp_path_factory.mktemp("site")
    (root / "module.html").write_text(MODULE_PAGE.replace("{backend}", server.http_url))
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


@pytest.fixture
def module_page(browser: BrowserContext, site: Site) -> Page:
    """A page of another origin that has imported ``<server>/client.js`` and nothing else."""
    page = browser.new_page()
    page.goto(site.url + "/module.html")
    page.wait_for_function("() => typeof window.RealtimeTranscriber === 'function'")
    return page


def test_client_module_is_served_to_any_origin(client_factory: Callable[..., TestClient]) -> None:
    """/client.js and /pcm-worklet.js: JavaScript, importable cross-origin, revalidated by ETag."""
    client = client_factory()
    for name in ("client.js", "pcm-worklet.js"):
        response = client.get(f"/{name}", headers={"Origin": "https://elsewhere.example"})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/javascript")
        assert response.headers["access-control-allow-origin"] == "*"
        assert response.headers["cache-control"] == "no-cache"
        again = client.get(f"/{name}", headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304
    module = client.get("/client.js").text
    assert re.search(r"export\s*\{[^}]*RealtimeTranscriber", module)
    assert re.search(r"^\s*import\s", module, re.MULTILINE) is None  # one self-contained module


def test_module_transcribes_and_stop_resolves_after_close(
    module_page: Page, server: LiveServer
) -> None:
    """Finals hold >= 70 % of the words; stop() resolves with them after the server's 1000."""
    page = module_page
    started = page.evaluate(START, {"backend": server.http_url, "token": TOKEN})
    assert started["ok"], started
    assert started["ready"]["engine"] == "local"
    assert started["ready"]["sampleRate"] == 16000
    page.evaluate(FINAL_WITH, LAST_WORD)
    stopped = page.evaluate(STOP)
    events = page.evaluate("window.events")
    levels: list[float] = page.evaluate("window.levels")

    finals = stopped["finals"]
    heard = " ".join(final["text"] for final in finals)
    assert share_of_words(SENTENCE, heard) >= 0.7, heard
    final_events = [e["detail"] for e in events if e["type"] == "final" and e["detail"]["text"]]
    assert finals == final_events
    assert all({"segmentId", "text", "startS", "endS"} <= final.keys() for final in finals)
    assert any(final.get("words") for final in finals)  # the local engine gives word times
    close = close_before(stopped["sockets"], stopped["resolvedAt"])
    assert all(e["at"] <= close["at"] for e in events if e["type"] == "final")
    states = [e["detail"] for e in events if e["type"] == "state"]
    assert states == ["connecting", "listening", "stopping", "closed"]
    assert stopped["state"] == "closed"
    assert stopped["transcript"] == " ".join(final["text"].strip() for final in finals)
    assert not [e for e in events if e["type"] == "error"]
    assert len(levels) >= 20  # about ten a second
    assert max(levels) > 0.3
    assert min(levels) == 0


def test_module_stop_mid_utterance_returns_its_final(module_page: Page, server: LiveServer) -> None:
    """Stopping while the speaker talks still yields that utterance's final, sent after end."""
    page = module_page
    assert page.evaluate(START, {"backend": server.http_url, "token": TOKEN})["ok"]
    partial = page.evaluate(FIRST_PARTIAL)
    stopped = page.evaluate(STOP)
    events = page.evaluate("window.events")
    finals = stopped["finals"]
    assert finals, events
    assert finals[-1]["segmentId"] >= partial["segmentId"]
    late = [
        e for e in events if e["type"] == "final" and e["at"] >= stopped["calledAt"]
    ]  # decoded after stop() sent the last audio and end
    assert late, events
    close_before(stopped["sockets"], stopped["resolvedAt"])


def test_module_flush_finalizes_before_the_pause(module_page: Page, server: LiveServer) -> None:
    """flush() in mid-sentence yields a final at once; the rest of the sentence comes in another."""
    page = module_page
    assert page.evaluate(START, {"backend": server.http_url, "token": TOKEN})["ok"]
    partial = page.evaluate(FIRST_PARTIAL)
    page.evaluate("window.t.flush()")
    flushed = page.evaluate(
        """(segment) => new Promise((resolve, reject) => {
          const mine = (e) => e.type === "final" && e.detail.segmentId === segment;
          const seen = window.events.find(mine);
          if (seen) return resolve(seen.detail);
          setTimeout(() => reject(new Error("no final after flush")), 20000);
          window.t.addEventListener("final", (e) => {
            if (e.detail.segmentId === segment) resolve(e.detail);
          });
        })""",
        partial["segmentId"],
    )
    assert LAST_WORD not in flushed["text"].lower(), flushed  # before the speaker got there
    assert flushed["text"].strip(), flushed
    rest = page.evaluate(FINAL_WITH, LAST_WORD)
    assert rest["segmentId"] > flushed["segmentId"]
    page.evaluate(STOP)


def test_module_wrong_token_is_an_error_in_words(module_page: Page, server: LiveServer) -> None:
    """A refused token rejects start() with the very error the error event carries."""
    result = module_page.evaluate(START, {"backend": server.http_url, "token": "wrong"})
    assert not result["ok"]
    assert result["error"]["code"] == "unauthorized"
    assert "token" in result["error"]["message"]
    assert result["error"]["fatal"] is True
    assert result["isTranscriberError"]
    assert result["sameAsEvent"]
    assert result["errorEvents"] == 1
    assert result["state"] == "closed"


def test_module_unreachable_server_rejects_start_quickly(module_page: Page) -> None:
    """No server at the address: start() rejects within 10 s, saying so."""
    nowhere = f"http://127.0.0.1:{free_port()}"
    result = module_page.evaluate(START, {"backend": nowhere, "token": None})
    assert not result["ok"]
    assert result["error"]["code"] == "server_unreachable"
    assert nowhere in result["error"]["message"]
    assert result["ms"] < 10_000
    assert result["sameAsEvent"]


def test_module_denied_microphone_is_an_error_in_words(
    tmp_path: Path, site: Site, server: LiveServer
) -> None:
    """A refused microphone rejects start() with microphone_denied, before any connection."""
    with chromium(tmp_path, grant_microphone=False) as context:
        context.add_init_script(SOCKET_LOG)
        page = context.new_page()
        page.goto(site.url + "/module.html")
        page.wait_for_function("() => typeof window.RealtimeTranscriber === 'function'")
        result = page.evaluate(START, {"backend": server.http_url, "token": TOKEN})
        assert not result["ok"]
        assert result["error"]["code"] == "microphone_denied"
        assert "Microphone access was denied" in result["error"]["message"]
        assert result["sameAsEvent"]
        assert page.evaluate("window.socketLog") == []


# -- the React hook ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def react_site(tmp_path_factory: pytest.TempPathFactory, site: Site) -> str:
    """Build the package and the React test page (clients/js/e2e/react-app) into the site."""
    node_modules = CLIENT_DIR / "node_modules"
    if not (node_modules / ".bin" / "vite").exists() or shutil.which("node") is None:
        pytest.fail("the client's npm packages are missing: run `make jsinstall` (npm ci)")
    lib = tmp_path_factory.mktemp("client-lib")
    subprocess.run(["node", "build.mjs", "--out", str(lib)], cwd=CLIENT_DIR, check=True)
    vite = [
        str(node_modules / ".bin" / "vite"),
        "build",
        "--config",
        "e2e/react-app/vite.config.mjs",
    ]
    subprocess.run(
        [*vite, "--outDir", str(site.root / "react")],
        cwd=CLIENT_DIR,
        env={**os.environ, "CLIENT_LIB": str(lib)},
        check=True,
        timeout=120,
    )
    return site.url + "/react/index.html"


def open_react(browser: BrowserContext, react_site: str, backend: str, token: str | None) -> Page:
    page = browser.new_page()
    query = f"?backend={backend}&language=en" + (f"&token={token}" if token else "")
    page.goto(react_site + query)
    page.wait_for_selector("#state")
    assert page.inner_text("#state") == "idle"
    return page


def test_react_hook_transcribes_and_stop_resolves_after_close(
    browser: BrowserContext, react_site: str, server: LiveServer
) -> None:
    page = open_react(browser, react_site, server.http_url, TOKEN)
    page.click("#start")
    page.wait_for_function("() => window.startResult === true", timeout=30_000)
    page.wait_for_function(
        "(word) => document.querySelector('#finals').textContent.toLowerCase().includes(word)",
        arg=LAST_WORD,
        timeout=60_000,
    )
    page.click("#stop")
    page.wait_for_function("() => Array.isArray(window.stopResult)", timeout=30_000)
    finals = page.evaluate("window.stopResult")
    sockets = page.evaluate("window.socketLog")
    heard = " ".join(final["text"] for final in finals)
    assert share_of_words(SENTENCE, heard) >= 0.7, heard
    assert page.locator("#finals li").all_inner_texts() == [f["text"].strip() for f in finals]
    close_before(sockets, page.evaluate("performance.now()"))
    page.wait_for_function("() => document.querySelector('#state').textContent === 'closed'")
    assert page.get_attribute("#error", "data-code") == ""


def test_react_hook_flush_finalizes_before_the_pause(
    browser: BrowserContext, react_site: str, server: LiveServer
) -> None:
    page = open_react(browser, react_site, server.http_url, TOKEN)
    page.click("#start")
    page.wait_for_function(
        "() => document.querySelector('#partial').textContent.trim()", timeout=60_000
    )
    page.click("#flush")
    page.wait_for_selector("#finals li", timeout=20_000)
    first = page.locator("#finals li").first
    assert LAST_WORD not in first.inner_text().lower()
    page.wait_for_function(
        f"() => [...document.querySelectorAll('#finals li')].slice(1)"
        f".some((li) => li.textContent.toLowerCase().includes('{LAST_WORD}'))",
        timeout=60_000,
    )
    page.click("#stop")
    page.wait_for_function("() => Array.isArray(window.stopResult)", timeout=30_000)


def test_react_hook_wrong_token_is_an_error_in_words(
    browser: BrowserContext, react_site: str, server: LiveServer
) -> None:
    page = open_react(browser, react_site, server.http_url, "wrong")
    page.click("#start")
    page.wait_for_function("() => window.startResult === false", timeout=15_000)
    assert page.get_attribute("#error", "data-code") == "unauthorized"
    assert "token" in page.inner_text("#error")
    assert page.inner_text("#state") == "closed"


def test_react_hook_unreachable_server_fails_start_quickly(
    browser: BrowserContext, react_site: str
) -> None:
    page = open_react(browser, react_site, f"http://127.0.0.1:{free_port()}", None)
    began = time.monotonic()
    page.click("#start")
    page.wait_for_function("() => window.startResult === false", timeout=10_000)
    assert time.monotonic() - began < 10
    assert page.get_attribute("#error", "data-code") == "server_unreachable"
    assert "Could not reach" in page.inner_text("#error")
