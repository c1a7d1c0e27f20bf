"""Debug buffers shared through Redis: several instances, the ring bound, outages and recovery.

Every test runs its own ``redis-server`` on a free loopback port (see ``tests/redis_server.py``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from redis.asyncio import Redis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from realtime_stt.debug_log import DebugLog, DebugStoreUnavailableError
from realtime_stt.debug_redis import RedisDebugLog
from tests.conftest import LiveServer, free_port, silence
from tests.redis_server import RedisServer
from tests.scripted_engine import voiced
from tests.wsutil import finals, finish, stream

ServerFactory = Callable[..., LiveServer]


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A fresh redis-server on a free loopback port, stopped after the test."""
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


class SyncSocket:
    """A ``websockets.sync`` client connection with the interface ``tests.wsutil`` drives."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    def send_bytes(self, data: bytes) -> None:
        self.connection.send(data)

    def send_text(self, data: str) -> None:
        self.connection.send(data)

    def receive(self) -> dict[str, Any]:
        try:
            raw = self.connection.recv(timeout=60)
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd is not None else 1006
            return {"type": "websocket.close", "code": code}
        text = raw.decode() if isinstance(raw, bytes) else raw
        return {"type": "websocket.send", "text": text}

    def ready(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(self.connection.recv(timeout=30))
        assert message["type"] == "ready"
        return message


def get_json(server: LiveServer, path: str) -> Any:
    response = httpx.get(server.http_url + path, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def wait_until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


async def wait_async(check: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(500):  # 10 s
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


def without_time(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in entry.items() if k != "time"} for entry in entries]


class TestStore:
    def test_memory_and_redis_stores_return_the_same_entries(
        self, redis_server: RedisServer
    ) -> None:
        """Both stores give the same entry shape and values (but time) for the same records."""
        samples = (np.sin(np.arange(1600) / 5) * 8000).astype(np.int16)
        payload = {"type": "final", "segment_id": 0, "text": "hej", "words": [{"word": "hej"}]}

        async def run() -> None:
            memory = DebugLog(10, "inst-1")
            shared = RedisDebugLog(redis_server.url, 10, "inst-1")
            await shared.start()
            try:
                for store in (memory, shared):
                    store.record_chunk("front-chunks", "s1", 0, samples, 16_000)
                    store.record_chunk("front-chunks", "s1", 1, np.zeros(0, np.int16), 16_000)
                    store.record_text("front-text", "s1", payload)

                async def written() -> bool:
                    return len(await shared.read("front-chunks")) == 2

                await wait_async(written)
                for buffer in ("front-chunks", "front-text"):
                    mine = await memory.read(buffer)
                    theirs = await shared.read(buffer)
                    assert [set(e) for e in theirs] == [set(e) for e in mine]
                    assert without_time(theirs) == without_time(mine)
                    assert all(isinstance(e["time"], float) for e in theirs)
                    assert all(e["instance"] == "inst-1" for e in theirs)
                assert shared.health == "ok"
                assert shared.dropped == 0
            finally:
                await shared.aclose()

        asyncio.run(run())

    def test_redis_reads_keep_the_ring_bound_and_filters_of_memory(
        self, redis_server: RedisServer
    ) -> None:
        """Reads see only the newest N entries, with limit and paged session_id as in memory."""

        async def run() -> None:
            memory = DebugLog(5, "i")
            shared = RedisDebugLog(redis_server.url, 5, "i", page_size=2)
            await shared.start()
            try:
                for n in range(300):
                    for store in (memory, shared):
                        store.record_text("engine-text", f"s{n % 3}", {"n": n})

                async def written() -> bool:
                    newest = await shared.read("engine-text", limit=1)
                    return bool(newest) and newest[0]["n"] == 299

                await wait_async(written)
                queries: list[dict[str, Any]] = [
                    {},
                    {"limit": 2},
                    {"limit": 50},
                    {"session_id": "s0"},
                    {"session_id": "s1", "limit": 1},
                    {"session_id": "gone"},
                ]
                for query in queries:
                    mine = await memory.read("engine-text", **query)
                    theirs = await shared.read("engine-text", **query)
                    assert without_time(theirs) == without_time(mine), query
                assert [e["n"] for e in await shared.read("engine-text")] == list(range(295, 300))
                client = Redis.from_url(redis_server.url)
                try:
                    length = await client.xlen(RedisDebugLog.key("engine-text"))
                finally:
                    await client.aclose()
                assert length < 300  # MAXLEN ~ trims whole nodes, so the stream stays bounded
                # keyed by the name outside the code, which older instances share
                assert RedisDebugLog.key("engine-text").endswith(":openai-text")
            finally:
                await shared.aclose()

        asyncio.run(run())

    def test_records_beyond_the_queue_are_dropped_and_counted(self) -> None:
        """A full queue drops entries and counts them; recording never raises or waits."""

        async def run() -> None:
            store = RedisDebugLog(f"redis://127.0.0.1:{free_port()}/0", 5, "i", queue_size=3)
            try:
                for n in range(10):
                    store.record_text("front-text", "s", {"n": n})
                assert store.dropped == 7
            finally:
                await store.aclose()

        asyncio.run(run())

    def test_unreachable_redis_degrades_without_failing(self) -> None:
        """With no Redis, start succeeds, health is degraded, records drop and reads raise."""

        async def run() -> None:
            store = RedisDebugLog(f"redis://127.0.0.1:{free_port()}/0", 5, "i")
            await store.start()
            try:
                assert store.health == "degraded"
                store.record_text("front-text", "s", {"type": "ready"})
                assert store.dropped == 1
                with pytest.raises(DebugStoreUnavailableError):
                    await store.read("front-text")
            finally:
                await store.aclose()

        asyncio.run(run())


def test_two_instances_share_the_buffers(
    redis_server: RedisServer, live_server_factory: ServerFactory
) -> None:
    """Audio streamed to instance A shows in B's buffers, filtered and bounded to the newest N."""
    common = {"redis_url": redis_server.url, "debug_buffer_size": 50}
    a = live_server_factory(instance_id="inst-a", **common)
    b = live_server_factory(instance_id="inst-b", **common)
    assert get_json(b, "/healthz")["instance"] == "inst-b"
    assert get_json(b, "/healthz")["redis"] == "ok"

    audio = voiced(3.0) + silence(0.6)
    frames = -(-len(audio) // 3200)
    with connect(a.ws_url + "?language=en") as connection:
        ws = SyncSocket(connection)
        first = ws.ready()["session_id"]
        stream(ws, audio)
        messages, code = finish(ws)
    assert code == 1000
    assert [m["text"] for m in finals(messages)] == ["scripted words"]

    chunks_path = f"/debug/front-chunks?session_id={first}"
    wait_until(lambda: len(get_json(b, chunks_path)) == frames)
    chunks = get_json(b, chunks_path)
    assert [c["seq"] for c in chunks] == list(range(frames))
    assert {c["instance"] for c in chunks} == {"inst-a"}
    sent = get_json(b, f"/debug/front-text?session_id={first}")
    assert [m["type"] for m in sent] == ["ready"] + [m["type"] for m in messages]
    assert sent[-1]["text"] == finals(messages)[-1]["text"]
    assert [c["seq"] for c in get_json(b, chunks_path + "&limit=3")] == list(
        range(frames - 3, frames)
    )
    assert get_json(b, "/debug/front-chunks?session_id=nobody") == []
    assert any(e["instance"] == "inst-a" for e in get_json(b, "/debug/openai-text"))

    with connect(b.ws_url) as connection:  # 20 more chunks, recorded by B this time
        ws = SyncSocket(connection)
        second = ws.ready()["session_id"]
        stream(ws, silence(2.0))
        finish(ws)
    wait_until(lambda: len(get_json(a, f"/debug/front-chunks?session_id={second}")) == 20)
    ring = get_json(a, "/debug/front-chunks")
    assert len(ring) == 50
    assert [(c["session_id"], c["instance"]) for c in ring[-20:]] == [(second, "inst-b")] * 20
    assert [c["seq"] for c in ring[:30]] == list(range(frames - 30, frames))
    assert len(get_json(a, chunks_path)) == 30


def test_redis_outage_mid_session_degrades_then_recovers(
    redis_server: RedisServer, live_server_factory: ServerFactory
) -> None:
    """Redis stopping mid-session leaves the session whole; recording resumes when it returns."""
    server = live_server_factory(instance_id="inst-a", redis_url=redis_server.url)
    audio = voiced(3.0) + silence(0.6)
    half = len(audio) // 2 // 3200 * 3200
    with connect(server.ws_url + "?language=en") as connection:
        ws = SyncSocket(connection)
        ws.ready()
        stream(ws, audio[:half])
        redis_server.stop()
        stream(ws, audio[half:])
        messages, code = finish(ws)
    assert code == 1000
    assert [m["text"] for m in finals(messages)] == ["scripted words"]

    wait_until(lambda: get_json(server, "/healthz")["redis"] == "degraded")
    health = httpx.get(server.http_url + "/healthz", timeout=10)
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert health.json()["debug_dropped"] > 0
    assert httpx.get(server.http_url + "/debug/front-chunks", timeout=10).status_code == 503

    redis_server.start()  # same port, empty data
    wait_until(lambda: get_json(server, "/healthz")["redis"] == "ok")
    with connect(server.ws_url) as connection:
        ws = SyncSocket(connection)
        session_id = ws.ready()["session_id"]
        stream(ws, silence(1.0))
        finish(ws)
    path = f"/debug/front-chunks?session_id={session_id}"
    wait_until(lambda: len(get_json(server, path)) == 10)


def test_app_starts_with_redis_down_and_hides_its_password(
    client_factory: Callable[..., TestClient],
) -> None:
    """An unreachable REDIS_URL leaves /healthz 200 but degraded, and /config hides the password."""
    url = f"redis://:s3cret@127.0.0.1:{free_port()}/0"
    client = client_factory(redis_url=url, instance_id="inst-z")
    health = client.get("/healthz")
    assert health.status_code == 200
    assert (health.json()["redis"], health.json()["instance"]) == ("degraded", "inst-z")
    config = client.get("/config")
    assert "s3cret" not in config.text
    assert config.json()["redis_url"].startswith("redis://:***@127.0.0.1:")
    assert client.get("/debug/front-text").status_code == 503
