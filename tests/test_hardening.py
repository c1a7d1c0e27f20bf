"""Bad input and faults: every case gets a clear answer, and the server goes on unharmed."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from realtime_stt.local.decoder import UtteranceDecoder
from tests.conftest import silence, speech
from tests.wsutil import collect, finish, stream, transcript

ClientFactory = Callable[..., TestClient]


def server_tasks(client: TestClient) -> int:
    """The number of asyncio tasks alive on the app's event loop."""
    portal = client.portal
    assert portal is not None

    async def count() -> int:
        return len(asyncio.all_tasks())

    return portal.call(count)


def settle(client: TestClient, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def works(client: TestClient) -> None:
    """A new session still transcribes."""
    with client.websocket_connect("/ws?language=en") as ws:
        ws.receive_json()
        stream(ws, speech("en_weather"))
        messages, code = finish(ws)
    assert code == 1000
    assert "sunny" in transcript(messages)


class TestDisconnects:
    def test_abrupt_disconnect_mid_utterance_leaks_nothing(self, client: TestClient) -> None:
        """Dropping the socket mid-speech frees the session, its tasks and its threads."""
        works(client)
        tasks, threads = server_tasks(client), threading.active_count()
        for _ in range(3):
            with client.websocket_connect("/ws?language=en") as ws:
                ws.receive_json()
                stream(ws, speech("en_fox")[: 32000 * 3])
        settle(client, lambda: client.get("/healthz").json()["sessions"] == 0)
        settle(client, lambda: server_tasks(client) <= tasks)
        assert threading.active_count() <= threads + 1
        works(client)


class TestFaults:
    def test_engine_failure_reaches_only_its_own_session(
        self, client: TestClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A decoder that raises for one session's language fails that session alone, with 1011."""
        original = UtteranceDecoder.decode

        def flaky(self: UtteranceDecoder, *args: object, **kwargs: object) -> object:
            if self.language == "de":
                raise RuntimeError("injected decoder fault")
            return original(self, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(UtteranceDecoder, "decode", flaky)
        with (
            client.websocket_connect("/ws?language=de") as broken,
            client.websocket_connect("/ws?language=en") as healthy,
        ):
            broken.receive_json()
            healthy.receive_json()
            stream(broken, speech("en_weather") + silence(0.6))
            stream(healthy, speech("en_weather") + silence(0.6))
            broken_messages, broken_code = collect(broken)
            healthy_messages, healthy_code = finish(healthy)
        assert broken_code == 1011
        errors = [m["code"] for m in broken_messages if m["type"] == "error"]
        assert errors == ["engine_failure"]
        assert broken_messages[-1]["type"] == "final"  # its open segment is closed
        assert healthy_code == 1000
        assert "sunny" in transcript(healthy_messages)
        assert all(m["type"] != "error" for m in healthy_messages)
        monkeypatch.undo()
        works(client)


class TestLimits:
    def test_a_session_over_its_length_gets_its_finals_then_1000(
        self, client_factory: ClientFactory
    ) -> None:
        """At MAX_SESSION_SECONDS the client is told, gets the finals, and the close is clean."""
        client = client_factory(max_session_seconds=2.0)
        with client.websocket_connect("/ws?language=en") as ws:
            ws.receive_json()
            stream(ws, speech("en_weather") + silence(1.0))
            messages, code = collect(ws)
        assert code == 1000
        assert [m["code"] for m in messages if m["type"] == "error"] == ["session_too_long"]
        final = [m for m in messages if m["type"] == "final"][-1]
        assert final["ts"]["end_s"] <= 2.0
        assert "tomorrow" in final["text"].lower()
