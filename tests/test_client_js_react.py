"""The React hook (``useTranscription``) end to end in headless Chromium: a page built by Vite
from a fresh build of the package (see :mod:`tests.client_js_pages` for the server and site).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from typing import TYPE_CHECKING

import pytest

from tests.client_js_pages import (
    CLIENT_DIR,
    LAST_WORD,
    SENTENCE,
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
    browser: BrowserContext, react_site: str, model_server: LiveServer
) -> None:
    page = open_react(browser, react_site, model_server.http_url, TOKEN)
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
    browser: BrowserContext, react_site: str, model_server: LiveServer
) -> None:
    page = open_react(browser, react_site, model_server.http_url, TOKEN)
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
    browser: BrowserContext, react_site: str, model_server: LiveServer
) -> None:
    page = open_react(browser, react_site, model_server.http_url, "wrong")
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
