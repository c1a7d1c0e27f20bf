"""Helpers to drive ``/ws`` from tests."""

from __future__ import annotations

import json
from typing import Any, Protocol

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

CHUNK = 3200  # 100 ms of 16 kHz PCM16


class WebSocketLike(Protocol):
    def send_bytes(self, data: bytes) -> None: ...
    def send_text(self, data: str) -> None: ...
    def receive(self) -> Any: ...


def stream(ws: WebSocketLike, audio: bytes, chunk: int = CHUNK) -> None:
    """Send ``audio`` in chunks of ``chunk`` bytes."""
    for start in range(0, len(audio), chunk):
        ws.send_bytes(audio[start : start + chunk])


def finish(ws: WebSocketLike) -> tuple[list[dict[str, Any]], int]:
    """Send ``end`` and collect every message until the server closes; returns (messages, code)."""
    ws.send_text(json.dumps({"type": "end"}))
    return collect(ws)


def collect(ws: WebSocketLike) -> tuple[list[dict[str, Any]], int]:
    """Receive messages until the server closes; returns (messages, close code)."""
    messages: list[dict[str, Any]] = []
    while True:
        raw = ws.receive()
        if raw["type"] == "websocket.close":
            return messages, int(raw.get("code", 1000))
        messages.append(json.loads(raw["text"]))


def finals(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The final messages, in order."""
    return [m for m in messages if m["type"] == "final"]


def transcript(messages: list[dict[str, Any]]) -> str:
    """The finals' text joined, lower-cased, without punctuation."""
    text = " ".join(m["text"] for m in finals(messages))
    return " ".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


def until_closed(ws: ClientConnection) -> tuple[list[dict[str, object]], int | None]:
    """Every message until the server closes (each within 30 s), and the close code."""
    messages: list[dict[str, object]] = []
    try:
        while True:
            messages.append(json.loads(ws.recv(timeout=30)))
    except ConnectionClosed as closed:
        return messages, None if closed.rcvd is None else closed.rcvd.code
