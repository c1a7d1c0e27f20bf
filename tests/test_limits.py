"""Limits that protect other users: idle sessions, sessions per address, slow request headers,
and no model building on the event loop when the first session opens."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import onnxruntime
import pytest
from fastapi.testclient import TestClient
from websockets.sync.client import connect

from realtime_stt.app import create_app
from realtime_stt.local import engine as local_engine
from realtime_stt.local.decoder import UtteranceDecoder
from realtime_stt.local.vad import vad_model
from tests.conftest import LiveServer, make_settings, silence
from tests.wsutil import collect, finish, until_closed

ClientFactory = Callable[..., TestClient]
ServerFactory = Callable[..., LiveServer]


class TestIdleTimeout:
    def test_a_session_without_audio_is_told_and_closed(
        self, live_server_factory: ServerFactory
    ) -> None:
        """No audio for IDLE_TIMEOUT_S: idle_timeout, then close 1008, freeing the slot."""
        server = live_server_factory(idle_timeout_s=0.5)
        with connect(server.ws_url + "?language=en") as ws:
            assert json.loads(ws.recv(timeout=30))["type"] == "ready"
            messages, code = until_closed(ws)
        assert [m["code"] for m in messages] == ["idle_timeout"]
        assert code == 1008

    def test_audio_keeps_a_session_open(self, live_server_factory: ServerFactory) -> None:
        """A session that keeps sending audio, however quiet, past the timeout is not idle."""
        server = live_server_factory(idle_timeout_s=1.5)
        with connect(server.ws_url + "?language=en") as ws:
            ws.recv(timeout=30)
            for _ in range(12):  # 3 s of wall time, a chunk every 0.25 s
                ws.send(silence(0.25))
                time.sleep(0.25)
            ws.send(json.dumps({"type": "end"}))
            messages, code = until_closed(ws)
        assert all(m["type"] != "error" for m in messages)
        assert code == 1000


class TestSessionsPerAddress:
    def test_one_address_cannot_take_every_slot(self, client_factory: ClientFactory) -> None:
        """Beyond MAX_SESSIONS_PER_CLIENT, one address gets too_many_sessions and 1013."""
        client = client_factory(max_sessions=8, max_sessions_per_client=2)
        with client.websocket_connect("/ws") as first, client.websocket_connect("/ws") as second:
            first.receive_json()
            second.receive_json()
            with client.websocket_connect("/ws") as third:
                messages, code = collect(third)
            assert [m["code"] for m in messages] == ["too_many_sessions"]
            assert code == 1013
            finish(first)
            deadline = time.monotonic() + 30
            while client.get("/healthz").json()["sessions"] != 1:  # the first's slot is freed
                assert time.monotonic() < deadline, "the closed session kept its slot"
                time.sleep(0.02)
            with client.websocket_connect("/ws") as again:  # this address has a free slot again
                assert again.receive_json()["type"] == "ready"
                finish(again)
            finish(second)

    def test_the_default_is_half_the_session_limit(self, client_factory: ClientFactory) -> None:
        """Unset, each address may hold half of MAX_SESSIONS (at least one)."""
        client = client_factory(max_sessions=4)
        with client.websocket_connect("/ws") as a, client.websocket_connect("/ws") as b:
            a.receive_json()
            b.receive_json()
            with client.websocket_connect("/ws") as c:
                assert collect(c)[0][0]["code"] == "too_many_sessions"
            finish(a)
            finish(b)


class TestHeaderTimeout:
    def test_a_client_trickling_headers_is_disconnected(
        self, live_server_factory: ServerFactory
    ) -> None:
        """Request headers not complete within HEADER_TIMEOUT_S: the connection is closed."""
        server = live_server_factory(header_timeout_s=0.5)
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            assert sock.recv(1024) == b""  # closed by the server, with no response

    def test_complete_headers_are_served_whatever_the_body_takes(
        self, live_server_factory: ServerFactory
    ) -> None:
        """The deadline covers the headers only: a request sent whole is answered."""
        server = live_server_factory(header_timeout_s=0.5)
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert sock.recv(1024).startswith(b"HTTP/1.1 200")


class TestWarmUp:
    @pytest.mark.model
    def test_the_first_session_builds_nothing_on_the_event_loop(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The VAD's ONNX session and the default language's decoder (its tokenizer) are built at
        start-up in a worker thread; opening the first session builds neither on the loop."""
        built: list[tuple[str, int]] = []
        real_session, real_decoder = onnxruntime.InferenceSession, UtteranceDecoder

        def session(*args: Any, **kwargs: Any) -> Any:
            built.append(("vad", threading.get_ident()))
            return real_session(*args, **kwargs)

        def decoder(*args: Any) -> Any:
            built.append(("decoder", threading.get_ident()))
            return real_decoder(*args)

        monkeypatch.setattr(onnxruntime, "InferenceSession", session)
        monkeypatch.setattr(local_engine, "UtteranceDecoder", decoder)
        vad_model.cache_clear()
        try:
            with TestClient(create_app(make_settings(language="en"))) as client:
                deadline = time.monotonic() + 60
                while len(built) < 2:
                    assert time.monotonic() < deadline, f"not warmed at start-up: {built}"
                    time.sleep(0.02)
                assert client.portal is not None
                loop_thread = client.portal.call(threading.get_ident)
                with client.websocket_connect("/ws") as ws:
                    assert ws.receive_json()["type"] == "ready"
                    finish(ws)
        finally:
            vad_model.cache_clear()
        assert sorted(kind for kind, _ in built) == ["decoder", "vad"]
        assert all(thread != loop_thread for _, thread in built)
