"""The protocol plumbing of one fake connection: the event loop, validation, errors, sending.

:class:`ConnectionBase` serves a WebSocket: an ``OpenAI-Beta`` header gets
``beta_api_shape_disabled`` and close 4000; otherwise ``session.created`` comes first, then every
client frame is validated (:mod:`tests.openai_fake.validation`). A bad frame gets an ``error``
event (``error.event_id`` = the client's ``event_id``) and the connection stays open; a valid one
is recorded and handed to the subclass's handlers. Events a transcription session does not take
(``response.create`` and other conversation events) get ``invalid_value`` on ``type``. The
scenario's ``stall`` (send nothing) and ``session_expiry_s`` (``session_expired``, close 1000)
are applied here. Server events are SDK models, recorded before they are sent.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import anyio
import anyio.abc
from openai.types.realtime import (
    InputAudioBufferAppendEvent,
    InputAudioBufferClearEvent,
    InputAudioBufferCommitEvent,
    RealtimeTranscriptionSessionCreateRequest,
    SessionUpdateEvent,
)
from openai.types.realtime.realtime_session_create_request import RealtimeSessionCreateRequest
from pydantic import BaseModel
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from . import server_events as build
from .scenario import ConnectionRecord
from .validation import Problem, validate_client_frame

if TYPE_CHECKING:
    from .server import FakeRealtimeServer

BETA_MESSAGE = (
    "The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API."
)


class ConnectionBase:
    """Serves one WebSocket until it closes; subclasses handle the valid client events."""

    def __init__(self, server: FakeRealtimeServer, ws: ServerConnection, rec: ConnectionRecord):
        self.server = server
        self.scenario = server.scenario
        self.ws = ws
        self.rec = rec
        self.conversation = rec.query.get("intent") != ["transcription"] or "model" in rec.query
        self.tasks: anyio.abc.TaskGroup | None = None

    async def run(self) -> None:
        """Serve until the peer closes, the scenario drops the connection, or the server stops."""
        if "openai-beta" in self.rec.headers:
            await self.error("beta_api_shape_disabled", BETA_MESSAGE)
            await self.ws.close(4000, "beta_api_shape_disabled")
            return
        async with anyio.create_task_group() as tasks:
            self.tasks = tasks
            try:
                if self.scenario.stall:
                    async for _ in self.ws:
                        pass
                    return
                if self.scenario.session_expiry_s is not None:
                    tasks.start_soon(self._expire, self.scenario.session_expiry_s)
                await self.send(build.session_created(self.session(), self.server.event_id()))
                async for frame in self.ws:
                    if not await self.on_frame(frame):
                        break
            except ConnectionClosed:
                pass
            finally:
                tasks.cancel_scope.cancel()

    async def on_frame(self, frame: str | bytes) -> bool:
        """Handle one frame; False once the scenario dropped the connection."""
        event = validate_client_frame(frame)
        if isinstance(event, Problem):
            self.rec.refused.append((frame, event))
            await self.refuse(event)
            return True
        self.rec.received.append(event)
        if isinstance(event, SessionUpdateEvent):
            await self.on_update(event)
        elif isinstance(event, InputAudioBufferAppendEvent):
            return await self.on_append(event)
        elif isinstance(event, InputAudioBufferCommitEvent):
            await self.on_commit(event.event_id)
        elif isinstance(event, InputAudioBufferClearEvent):
            self.on_clear()
            await self.send(build.cleared(self.server.event_id()))
        else:
            kind = getattr(event, "type", "?")
            message = f"'{kind}' is not supported in transcription sessions."
            await self.error("invalid_value", message, "type", getattr(event, "event_id", None))
        return True

    async def on_update(self, event: SessionUpdateEvent) -> None:
        """A ``session.update``: refuse one for the other session type, else :meth:`apply`."""
        session = event.session
        if isinstance(session, RealtimeSessionCreateRequest) != self.conversation:
            mine, theirs = (
                ("transcription", "realtime")
                if self.conversation
                else ("realtime", "transcription")
            )
            message = f"Passing a {mine} session update event to a {theirs} session is not allowed."
            await self.error("invalid_value", message, "session.type", event.event_id)
            return
        if isinstance(session, RealtimeTranscriptionSessionCreateRequest):
            problem = self.apply(session, event.event_id)
            if problem is not None:
                await self.refuse(problem)
                return
        await self.send(build.session_updated(self.session(), self.server.event_id()))

    # -- for subclasses ------------------------------------------------------------------------

    def session(self) -> RealtimeTranscriptionSessionCreateRequest | RealtimeSessionCreateRequest:
        """The effective session configuration (for ``session.created``/``updated``)."""
        return RealtimeSessionCreateRequest(type="realtime")

    def apply(
        self, session: RealtimeTranscriptionSessionCreateRequest, event_id: str | None
    ) -> Problem | None:
        """Apply a transcription session update, or say why it is refused (nothing applied)."""
        return None

    async def on_append(self, event: InputAudioBufferAppendEvent) -> bool:
        """An append; False once the scenario dropped the connection."""
        return True

    async def on_commit(self, event_id: str | None) -> None:
        """A client commit."""

    def on_clear(self) -> None:
        """A clear (``input_audio_buffer.cleared`` is sent after it)."""

    # -- sending -------------------------------------------------------------------------------

    async def _expire(self, after_s: float) -> None:
        await anyio.sleep(after_s)
        message = "Your session hit the maximum duration of 60 minutes."
        await self.error("session_expired", message)
        await self.ws.close(1000)

    async def refuse(self, problem: Problem) -> None:
        """Send the ``error`` event for ``problem``."""
        await self.error(problem.code, problem.message, problem.param, problem.event_id)

    async def error(
        self,
        code: str,
        message: str,
        param: str | None = None,
        event_id: str | None = None,
        *,
        kind: str = "invalid_request_error",
    ) -> None:
        """Send an ``error`` event about client event ``event_id``."""
        event = build.error(
            code,
            message,
            param=param,
            client_event_id=event_id,
            kind=kind,
            event_id=self.server.event_id(),
        )
        await self.send(event)

    async def send(self, event: BaseModel) -> None:
        """Record and send one server event (ignored once the connection is closed)."""
        self.rec.sent.append(event)
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(event.model_dump_json(exclude_unset=True))
