"""uvicorn's HTTP and WebSocket protocols with the two guarantees this service adds.

- :class:`FrameLimitProtocol`: the WebSocket layer refuses a frame over ``ws_max_size`` (set to
  ``MAX_FRAME_BYTES``, the limit :class:`~realtime_stt.session_core.SessionCore` enforces) as soon
  as the frame's header announces its length, without reading the payload, and closes with 1009.
  Before that close it sends the ``frame_too_large`` error the protocol promises, so a frame
  megabytes over the limit is answered exactly as one a byte over it.
- :func:`header_timeout_protocol`: an HTTP protocol that closes a connection whose request line
  and headers are not complete within ``HEADER_TIMEOUT_S`` of the connection (or of the start of
  the next request on a kept-alive connection), so slowly trickled headers cannot hold sockets.

:func:`realtime_stt.server.uvicorn_config` puts both into uvicorn's configuration.
"""

from __future__ import annotations

import asyncio
import logging

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import PayloadTooBig
from websockets.frames import Frame, Opcode

from realtime_stt import wire

log = logging.getLogger(__name__)


def frame_too_large_frame(limit: int) -> bytes:
    """The serialised server frame carrying the ``frame_too_large`` error for ``limit``."""
    message = f"frames may hold at most {limit} bytes"
    error = wire.Error(code="frame_too_large", message=message)
    return Frame(Opcode.TEXT, wire.encode(error).encode()).serialize(mask=False)


class FrameLimitProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, answering an oversized frame in words before the 1009."""

    def handle_parser_exception(self) -> None:
        """Send ``frame_too_large`` ahead of the close frame the parser queued."""
        if isinstance(self.conn.parser_exc, PayloadTooBig) and self.config.ws_max_size:
            self.transport.write(frame_too_large_frame(self.config.ws_max_size))
        super().handle_parser_exception()


class _HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for each request's headers."""

    header_timeout_s = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the clock for the first request's headers."""
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        """Start the clock for a later request's headers on a kept-alive connection."""
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        """The headers are in: stop the clock."""
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the clock with the connection."""
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        log.info("closing a connection whose headers took over %g s", self.header_timeout_s)
        self.transport.close()


def header_timeout_protocol(seconds: float) -> type[HttpToolsProtocol]:
    """The HTTP protocol class that gives each request's headers ``seconds`` to arrive."""
    return type("HeaderTimeoutProtocol", (_HeaderTimeoutProtocol,), {"header_timeout_s": seconds})
