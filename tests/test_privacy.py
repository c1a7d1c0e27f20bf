"""Privacy by default: who reads the debug buffers, secrets kept out of logs and /config, and the
warning for an OpenAI backend that any Lovable app may use."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from websockets.sync.client import connect

from realtime_stt.app import create_app
from realtime_stt.debug_access import is_loopback
from realtime_stt.redaction import RedactingFilter, redact_text
from tests.conftest import free_port, healthy, make_settings

ClientFactory = Callable[..., TestClient]


class TestDebugEndpoints:
    def test_auto_is_open_when_listening_on_loopback_only(
        self, client_factory: ClientFactory
    ) -> None:
        """DEBUG_ENDPOINTS=auto (the default) serves anyone while HOST is a loopback address."""
        client = client_factory(host="127.0.0.1")
        assert client.get("/debug/front-text").status_code == 200

    def test_auto_refuses_everyone_on_a_public_address_without_a_token(
        self, client_factory: ClientFactory
    ) -> None:
        """Listening on 0.0.0.0 without DEBUG_TOKEN, every debug read gets 403 and how to enable."""
        client = client_factory(host="0.0.0.0")
        response = client.get("/debug/front-text")
        assert response.status_code == 403
        detail = response.json()["detail"]
        assert detail["code"] == "debug_token_not_configured"
        assert "DEBUG_TOKEN" in detail["message"]
        assert "DEBUG_ENDPOINTS=open" in detail["message"]

    def test_auto_on_a_public_address_needs_the_debug_token(
        self, client_factory: ClientFactory
    ) -> None:
        """With DEBUG_TOKEN set on a public bind, reads need it; the API token is not enough."""
        client = client_factory(host="0.0.0.0", debug_token="peek", api_token="api")
        assert client.get("/debug/front-text").status_code == 401
        assert client.get("/debug/front-text?token=api").status_code == 401
        headers = {"authorization": "Bearer peek"}
        assert client.get("/debug/front-text", headers=headers).status_code == 200

    def test_open_publishes_them_on_any_address(self, client_factory: ClientFactory) -> None:
        """DEBUG_ENDPOINTS=open keeps the first version's open buffers for those who choose it."""
        client = client_factory(host="0.0.0.0", debug_endpoints="open")
        assert client.get("/debug/front-text").status_code == 200

    def test_token_mode_needs_a_token_even_on_loopback(self, client_factory: ClientFactory) -> None:
        """DEBUG_ENDPOINTS=token asks for DEBUG_TOKEN on loopback too."""
        client = client_factory(debug_endpoints="token", debug_token="peek")
        assert client.get("/debug/front-text").status_code == 401
        assert client.get("/debug/front-text?token=peek").status_code == 200

    def test_token_mode_without_a_token_stops_startup(self) -> None:
        """DEBUG_ENDPOINTS=token with no DEBUG_TOKEN is an invalid configuration."""
        with pytest.raises(ValidationError, match="DEBUG_TOKEN"):
            make_settings(debug_endpoints="token")

    def test_the_first_versions_booleans_still_parse(self) -> None:
        """DEBUG_ENDPOINTS=true is auto and false is off."""
        assert make_settings(debug_endpoints="true").debug_endpoints == "auto"
        assert make_settings(debug_endpoints="false").debug_endpoints == "off"

    def test_the_bind_address_decides_what_is_loopback(self) -> None:
        """Loopback addresses and localhost count as local; anything else does not."""
        assert all(is_loopback(h) for h in ("127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost"))
        assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.2", "example.org"))

    def test_startup_names_the_mode(self, caplog: pytest.LogCaptureFixture) -> None:
        """One start-up log line names the debug endpoints' mode and why."""
        app = create_app(make_settings(host="0.0.0.0", local_model="/nonexistent"))
        with caplog.at_level(logging.INFO, logger="realtime_stt.app"), TestClient(app):
            pass
        lines = [r.getMessage() for r in caplog.records if "debug endpoints" in r.getMessage()]
        assert len(lines) == 1
        assert lines[0].startswith("debug endpoints: locked")


class TestSecretsInLogs:
    @pytest.mark.model
    def test_access_log_never_shows_a_token(self) -> None:
        """The running service's log (uvicorn's access log included) masks ?token= values."""
        port = free_port()
        env = {**os.environ, "PORT": str(port), "ENGINE": "local", "LANGUAGE": "en"}
        env |= {"API_TOKEN": "api-secret-1", "DEBUG_TOKEN": "debug-secret-2"}
        process = subprocess.Popen(
            [sys.executable, "-m", "realtime_stt"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while not healthy(port):
                assert time.monotonic() < deadline, "server did not become ready"
                time.sleep(0.1)
            base = f"127.0.0.1:{port}"
            with connect(f"ws://{base}/ws?token=api-secret-1&language=en") as ws:
                assert "ready" in str(ws.recv())
            httpx.get(f"http://{base}/debug/front-text?token=debug-secret-2&limit=1")
            httpx.get(f"http://{base}/config?api_key=query-secret-3")
        finally:
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=30)
        log = output.decode()
        assert "/debug/front-text?token=***&limit=1" in log
        assert "/ws?token=***&language=en" in log
        for secret in ("api-secret-1", "debug-secret-2", "query-secret-3"):
            assert secret not in log

    def test_authorization_values_are_masked_in_any_record(self) -> None:
        """Header dumps and bearer credentials in a record's message or arguments are masked."""
        record = logging.LogRecord(
            "websockets.client",
            logging.DEBUG,
            __file__,
            1,
            "> %s: %s",
            ("Authorization", "Bearer sk-1"),
            None,
        )
        RedactingFilter().filter(record)
        assert record.getMessage() == "> Authorization: ***"
        assert redact_text("Authorization: Bearer sk-2") == "Authorization: ***"
        assert redact_text('{"authorization": "Basic dXNlcjpwdw=="}') == '{"authorization": "***"}'
        assert redact_text("sent Bearer eyJ.abc.def upstream") == "sent Bearer *** upstream"

    def test_secret_looking_query_values_are_masked_and_others_kept(self) -> None:
        """Keys such as api_key, access_token or X-Amz-Signature are masked; the rest is kept."""
        text = "GET /p?language=sv&api_key=a1&access_token=b2&X-Amz-Signature=c3&limit=5"
        assert redact_text(text) == (
            "GET /p?language=sv&api_key=***&access_token=***&X-Amz-Signature=***&limit=5"
        )


class TestConfig:
    def test_every_url_setting_hides_its_credentials(self, client_factory: ClientFactory) -> None:
        """No URL setting shows user info or secret-looking query values in /config."""
        base = "https://proxy-user:proxy-pass@llm.example/v1?api-key=k3y&region=eu"
        client = client_factory(openai_base_url=base)
        response = client.get("/config")
        for secret in ("proxy-pass", "k3y"):
            assert secret not in response.text
        assert response.json()["openai_base_url"] == (
            "https://proxy-user:***@llm.example/v1?api-key=***&region=eu"
        )


class TestOpenOriginWarning:
    @staticmethod
    def warnings(caplog: pytest.LogCaptureFixture, **overrides: str) -> list[str]:
        settings = make_settings(engine="openai", openai_api_key="sk-test", **overrides)
        with caplog.at_level(logging.WARNING, logger="realtime_stt.app"):
            with TestClient(create_app(settings)):
                pass
            found = [r.getMessage() for r in caplog.records if "lovable.app" in r.getMessage()]
        caplog.clear()
        return found

    def test_openai_without_a_token_and_every_lovable_app_allowed_warns(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """ENGINE=openai, no API_TOKEN and the default origin rule: one warning at start-up."""
        found = self.warnings(caplog)
        assert len(found) == 1
        assert "API_TOKEN" in found[0]

    def test_a_token_or_a_narrow_origin_rule_silences_it(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """With API_TOKEN set, or origins narrowed to one app, nothing is logged."""
        assert self.warnings(caplog, api_token="t") == []
        assert self.warnings(caplog, allowed_origin_regex="") == []
