"""A strict local stand-in for the OpenAI Realtime GA transcription endpoint.

``async with FakeRealtimeServer(Scenario(...)) as fake:`` listens on 127.0.0.1 (a free port);
point the engine at ``fake.base_url`` (``http://127.0.0.1:<port>/v1``, as ``OPENAI_BASE_URL``).
The handshake needs ``GET /v1/realtime`` and ``Authorization: Bearer <scenario.api_key>`` (else
HTTP 404/401, or ``scenario.refuse_status`` for every request). Each accepted connection is served
by :class:`~tests.openai_fake.connection.FakeConnection` and recorded in :attr:`connections`; every
upgrade request, refused or not, is in :attr:`handshakes`; every committed item is in :attr:`turns`.
"""

from __future__ import annotations

import itertools
import json
from types import TracebackType
from urllib.parse import parse_qs

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from .connection import FakeConnection
from .scenario import ConnectionRecord, Handshake, Scenario, Turn


class FakeRealtimeServer:
    """The fake upstream; an async context manager that starts and stops the listener."""

    def __init__(self, scenario: Scenario | None = None) -> None:
        self.scenario = scenario or Scenario()
        self.handshakes: list[Handshake] = []
        self.connections: list[ConnectionRecord] = []
        self.turns: list[Turn] = []
        self._server: Server | None = None
        self._events = itertools.count()
        self._turn_counter = itertools.count()

    @property
    def port(self) -> int:
        """The TCP port it listens on."""
        if self._server is None:
            msg = "the fake server is not running"
            raise RuntimeError(msg)
        port: int = next(iter(self._server.sockets)).getsockname()[1]
        return port

    @property
    def base_url(self) -> str:
        """The value for ``OPENAI_BASE_URL``."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def ws_url(self) -> str:
        """The full transcription URL a correct client connects to."""
        return f"ws://127.0.0.1:{self.port}/v1/realtime?intent=transcription"

    async def __aenter__(self) -> FakeRealtimeServer:
        self._server = await serve(
            self._handle, "127.0.0.1", 0, process_request=self._process_request
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def event_id(self) -> str:
        """A fresh server ``event_id``."""
        return f"event_{next(self._events):04d}"

    def next_turn(self) -> int:
        """The index of the next committed item, counted across connections."""
        return next(self._turn_counter)

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.partition("?")[0]
        headers = {name.lower(): value for name, value in request.headers.raw_items()}
        status = self._refusal(path, request.headers)
        self.handshakes.append(Handshake(request.path, headers, status or 101))
        if status is None:
            return None
        code = "invalid_api_key" if status == 401 else f"http_{status}"
        body = {"error": {"type": "invalid_request_error", "code": code, "message": "refused"}}
        response = connection.respond(status, json.dumps(body) + "\n")
        response.headers["Content-Type"] = "application/json"
        return response

    def _refusal(self, path: str, headers: Headers) -> int | None:
        if self.scenario.refuse_status is not None:
            return self.scenario.refuse_status
        if path != "/v1/realtime":
            return 404
        if headers.get("Authorization") != f"Bearer {self.scenario.api_key}":
            return 401
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        request = ws.request
        path, _, query = (request.path if request else "").partition("?")
        headers = {k.lower(): v for k, v in request.headers.raw_items()} if request else {}
        record = ConnectionRecord(len(self.connections), path, parse_qs(query), headers)
        self.connections.append(record)
        try:
            await FakeConnection(self, ws, record).run()
        finally:
            record.close_code = ws.close_code
