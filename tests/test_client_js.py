"""The browser client module (``/client.js``) end to end in headless Chromium.

A page of another origin imports only ``<server>/client.js`` (see
:mod:`tests.client_js_pages` for the server, the site and the scripts it runs).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

from tests.chromium import chromium
from tests.client_js_pages import (
    FINAL_WITH,
    FIRST_PARTIAL,
    LAST_WORD,
    SENTENCE,
    SOCKET_LOG,
    START,
    STOP,
    TOKEN,
    Site,
    browser,
    close_before,
    model_server,
    share_of_words,
    site,
)
from tests.conftest import LiveServer, free_port

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

__all__ = ["browser", "model_server", "site"]  # fixtures, used by name


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
    module_page: Page, model_server: LiveServer
) -> None:
    """Finals hold >= 70 % of the words; stop() resolves with them after the server's 1000."""
    page = module_page
    started = page.evaluate(START, {"backend": model_server.http_url, "token": TOKEN})
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


def test_module_stop_mid_utterance_returns_its_final(
    module_page: Page, model_server: LiveServer
) -> None:
    """Stopping while the speaker talks still yields that utterance's final, sent after end."""
    page = module_page
    assert page.evaluate(START, {"backend": model_server.http_url, "token": TOKEN})["ok"]
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


def test_module_flush_finalizes_before_the_pause(
    module_page: Page, model_server: LiveServer
) -> None:
    """flush() in mid-sentence yields a final at once; the rest of the sentence comes in another."""
    page = module_page
    assert page.evaluate(START, {"backend": model_server.http_url, "token": TOKEN})["ok"]
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


def test_module_wrong_token_is_an_error_in_words(
    module_page: Page, model_server: LiveServer
) -> None:
    """A refused token rejects start() with the very error the error event carries."""
    result = module_page.evaluate(START, {"backend": model_server.http_url, "token": "wrong"})
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
    tmp_path: Path, site: Site, model_server: LiveServer
) -> None:
    """A refused microphone rejects start() with microphone_denied, before any connection."""
    with chromium(tmp_path, grant_microphone=False) as context:
        context.add_init_script(SOCKET_LOG)
        page = context.new_page()
        page.goto(site.url + "/module.html")
        page.wait_for_function("() => typeof window.RealtimeTranscriber === 'function'")
        result = page.evaluate(START, {"backend": model_server.http_url, "token": TOKEN})
        assert not result["ok"]
        assert result["error"]["code"] == "microphone_denied"
        assert "Microphone access was denied" in result["error"]["message"]
        assert result["sameAsEvent"]
        assert page.evaluate("window.socketLog") == []


# -- the React hook ------------------------------------------------------------------------------
