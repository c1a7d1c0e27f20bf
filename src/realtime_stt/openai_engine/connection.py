"""One upstream WebSocket to the Realtime API: opened with retries, configured, pumped, closed,
and whether a lost one may be replaced.

:func:`open_upstream` returns only after ``session.created`` and the ``session.updated`` that
answers our ``session.update``; each attempt is bounded by ``Tuning.connect_timeout_s``. Failures:

* :class:`UpstreamRejectedError`, never retried: HTTP 401/403 on the handshake
  (``upstream_auth_failed``), another 4xx except 408/429 (``upstream_unavailable``), or an
  ``error`` event answering the configuration (``upstream_auth_failed`` for ``invalid_api_key``,
  else ``upstream_error:<code>``).
* anything else (5xx, 408, 429, timeouts, refused TCP, early close) is retried after
  :meth:`Tuning.backoff` with up to 20 % jitter, ``max_attempts`` times in all and for at least
  ``Tuning.retry_window_s``; then ``upstream_unavailable``. All three codes are raised as
  ``fatal`` engine errors by the session.

Once a connection is lost, :func:`drops_after_loss` says whether it may be replaced (both kinds
of session follow it).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio
from openai.types.realtime import (
    RealtimeErrorEvent,
    RealtimeServerEvent,
    SessionCreatedEvent,
    SessionUpdatedEvent,
)
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.protocol import State

from realtime_stt.engine.protocol import EngineError
from realtime_stt.engine.running import FatalError
from realtime_stt.openai_engine.events import parse_server_event
from realtime_stt.openai_engine.tuning import RETRY_CLOSE_CODES, Tuning

log = logging.getLogger(__name__)
MAX_FRAME_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Target:
    """Where and how to connect: the ``wss://…/realtime?intent=transcription`` URL, the API key,
    and the ``session.update`` frame sent on every new connection."""

    url: str
    api_key: str
    session_update: str

    def __repr__(self) -> str:
        return f"Target(url={self.url!r}, api_key='***')"


class UpstreamRejectedError(Exception):
    """Upstream refused us for a reason a retry will not fix; ``code`` is the engine error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _RetryableError(Exception):
    pass


class Upstream:
    """An open, configured connection; connection number ``gen`` of its session."""

    def __init__(self, ws: ClientConnection, gen: int) -> None:
        self.ws = ws
        self.gen = gen
        self.opened_at = time.monotonic()
        self.lost = False
        self.close_code: int | None = None
        self.finished = anyio.Event()

    @property
    def writable(self) -> bool:
        """Whether :meth:`send_nowait` can send now: open, and the socket not backed up."""
        ws = self.ws
        return not self.lost and ws.protocol.state is State.OPEN and not ws.paused

    def send_nowait(self, frame: str) -> None:
        """Send one client event at once, without yielding; only while :attr:`writable`.

        The per-chunk appends go this way: ``ClientConnection.send`` costs a context manager, a
        drain and its checks per frame, which was a tenth of the proxy's CPU. This is what it does
        for one unfragmented text frame on an open connection that is not paused (see
        ``websockets.asyncio.connection.Connection.send_context``); any other case uses
        :meth:`send`.
        """
        self.ws.protocol.send_text(frame.encode())
        self.ws.send_data()

    async def send(self, frame: str) -> bool:
        """Send one client event; ``False`` (and :attr:`lost`) if the connection is gone."""
        if self.lost:
            return False
        try:
            await self.ws.send(frame)
        except ConnectionClosed:
            self.lost = True
            return False
        return True

    async def pump(self, on_event: Callable[[RealtimeServerEvent], Awaitable[None]]) -> None:
        """Hand each server event to ``on_event`` until the connection closes; then mark it lost."""
        try:
            async for frame in self.ws:
                event = parse_server_event(frame)
                if event is not None:
                    await on_event(event)
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.lost = True
            self.finished.set()

    async def aclose(self, timeout_s: float) -> None:
        """Close with code 1000, waiting at most ``timeout_s``, even inside a cancelled scope."""
        self.lost = True
        with anyio.move_on_after(timeout_s, shield=True):
            await self.ws.close()


async def open_upstream(target: Target, tuning: Tuning, gen: int) -> Upstream:
    """Connect and configure, retrying transient failures; raises :class:`UpstreamRejectedError`."""
    failure = "no attempt made"
    deadline = time.monotonic() + tuning.retry_window_s
    attempt = 0
    while True:
        attempt += 1
        try:
            return Upstream(await _open_once(target, tuning), gen)
        except _RetryableError as exc:
            failure = str(exc)
            log.warning("OpenAI connect attempt %d/%d: %s", attempt, tuning.max_attempts, failure)
        left = deadline - time.monotonic()
        if attempt >= tuning.max_attempts and left <= 0:
            break
        pause = tuning.backoff(attempt) * random.uniform(0.8, 1.0)
        await anyio.sleep(pause if attempt < tuning.max_attempts else min(pause, left))
    message = f"OpenAI Realtime unreachable after {attempt} attempts: {failure}"
    raise UpstreamRejectedError("upstream_unavailable", message)


async def _open_once(target: Target, tuning: Tuning) -> ClientConnection:
    ws: ClientConnection | None = None
    try:
        with anyio.fail_after(tuning.connect_timeout_s):
            ws = await connect(
                target.url,
                additional_headers={"Authorization": f"Bearer {target.api_key}"},
                open_timeout=None,
                close_timeout=tuning.close_timeout_s,
                max_size=MAX_FRAME_BYTES,
                # base64 PCM barely compresses, and deflate was a fifth of the proxy's CPU
                compression=None,
            )
            await _configure(ws, target.session_update)
    except InvalidStatus as exc:
        raise _refusal(exc.response.status_code) from exc
    except BaseException as exc:
        if ws is not None:
            await _close(ws, tuning.close_timeout_s)
        if isinstance(exc, TimeoutError):
            stage = "WebSocket handshake" if ws is None else "session.updated"
            raise _RetryableError(f"no {stage} within {tuning.connect_timeout_s:g} s") from exc
        if isinstance(exc, OSError | InvalidHandshake | ConnectionClosed):
            raise _RetryableError(f"{type(exc).__name__}: {exc}") from exc
        raise
    return ws


async def _configure(ws: ClientConnection, session_update: str) -> None:
    await _expect(ws, SessionCreatedEvent)
    await ws.send(session_update)
    await _expect(ws, SessionUpdatedEvent)


async def _expect(
    ws: ClientConnection, kind: type[SessionCreatedEvent | SessionUpdatedEvent]
) -> None:
    while True:
        event = parse_server_event(await ws.recv())
        if isinstance(event, kind):
            return
        if isinstance(event, RealtimeErrorEvent):
            error = event.error
            code = "upstream_auth_failed" if error.code == "invalid_api_key" else None
            raise UpstreamRejectedError(
                code or f"upstream_error:{error.code or error.type}",
                f"OpenAI refused the session configuration: {error.message}",
            )


def _refusal(status: int) -> Exception:
    if status in (401, 403):
        return UpstreamRejectedError(
            "upstream_auth_failed", f"OpenAI refused the API key (HTTP {status})"
        )
    if 400 <= status < 500 and status not in (408, 429):
        return UpstreamRejectedError(
            "upstream_unavailable", f"OpenAI refused the connection (HTTP {status})"
        )
    return _RetryableError(f"HTTP {status} instead of 101")


async def _close(ws: ClientConnection, timeout_s: float) -> None:
    with anyio.move_on_after(timeout_s, shield=True):
        await ws.close()


async def drops_after_loss(lost: Upstream, *, expired: bool, drops: int, tuning: Tuning) -> int:
    """The count of drops in a row once connection ``lost`` is gone (after waiting, bounded, for
    its reader to finish); raises :class:`FatalError` when it must not be replaced: a close code
    that is not retried (unless upstream said ``session_expired``), or too many drops in a row.
    """
    with anyio.move_on_after(tuning.close_timeout_s):
        await lost.finished.wait()
    code = lost.close_code
    if not (expired or code is None or code in RETRY_CLOSE_CODES):
        message = f"OpenAI closed the connection (code {code})"
        raise FatalError(EngineError("upstream_closed", message, fatal=True))
    lived = time.monotonic() - lost.opened_at
    drops = drops + 1 if lived < tuning.stable_after_s else 1
    if drops > tuning.max_attempts:
        message = f"the upstream connection dropped {drops} times in a row"
        raise FatalError(EngineError("upstream_unavailable", message, fatal=True))
    log.warning("OpenAI connection %d lost (code %s); reconnecting", lost.gen, code)
    return drops
