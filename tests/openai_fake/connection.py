"""One accepted connection of the fake server: validates, runs the VAD, scripts transcripts.

Protocol behaviour mirrors the GA transcription service: ``session.created`` first; every
client frame is validated (:mod:`tests.openai_fake.validation`) and a bad one gets an ``error``
event while the connection stays open; an ``OpenAI-Beta`` header gets ``beta_api_shape_disabled``
and close 4000; a connection without ``intent=transcription`` (or with ``model``) is a
conversation session that refuses a transcription ``session.update``; commits under 100 ms get
``input_audio_buffer_commit_empty``. Server events are SDK models, recorded before sending.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from typing import TYPE_CHECKING

import anyio
import anyio.abc
from openai.types.realtime import (
    InputAudioBufferAppendEvent,
    InputAudioBufferClearEvent,
    InputAudioBufferCommitEvent,
    RealtimeTranscriptionSessionAudio,
    RealtimeTranscriptionSessionAudioInput,
    RealtimeTranscriptionSessionCreateRequest,
    SessionUpdateEvent,
)
from openai.types.realtime.realtime_audio_formats import AudioPCM
from openai.types.realtime.realtime_session_create_request import RealtimeSessionCreateRequest
from openai.types.realtime.realtime_transcription_session_audio_input_turn_detection import (
    ServerVad,
)
from pydantic import BaseModel
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from . import server_events as build
from .audio import RATE, dominant_frequency, samples, voiced
from .scenario import ConnectionRecord, Turn
from .vad import EnergyVad, VadStart
from .validation import Problem, validate_client_frame

if TYPE_CHECKING:
    from .server import FakeRealtimeServer

PER_MS = RATE // 1000
MIN_COMMIT = RATE // 10


class FakeConnection:
    """Serves one WebSocket until it closes; see the module docstring for the rules."""

    def __init__(self, server: FakeRealtimeServer, ws: ServerConnection, rec: ConnectionRecord):
        self.server = server
        self.scenario = server.scenario
        self.ws = ws
        self.rec = rec
        self.conversation = rec.query.get("intent") != ["transcription"] or "model" in rec.query
        self.input = RealtimeTranscriptionSessionAudioInput(
            format=AudioPCM(type="audio/pcm", rate=24000),
            noise_reduction=None,
            transcription=None,
            turn_detection=ServerVad(
                type="server_vad", threshold=0.5, prefix_padding_ms=300, silence_duration_ms=200
            ),
        )
        self.vad: EnergyVad | None = self._make_vad()
        self.buffer_start = 0
        self.current: tuple[str, int] | None = None
        self.last_item: str | None = None
        self.appends = 0
        self.items = 0
        self.tasks: anyio.abc.TaskGroup | None = None

    async def run(self) -> None:
        """Serve until the peer closes, the scenario drops the connection, or the server stops."""
        if "openai-beta" in self.rec.headers:
            message = (
                "The Realtime Beta API is no longer supported. "
                "Please use /v1/realtime for the GA API."
            )
            await self.error("beta_api_shape_disabled", message)
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
                await self.send(build.session_created(self._session(), self.server.event_id()))
                async for frame in self.ws:
                    if not await self.on_frame(frame):
                        break
            except ConnectionClosed:
                pass
            finally:
                tasks.cancel_scope.cancel()

    # -- client events -------------------------------------------------------------------------

    async def on_frame(self, frame: str | bytes) -> bool:
        """Handle one frame; False once the scenario dropped the connection."""
        event = validate_client_frame(frame)
        if isinstance(event, Problem):
            self.rec.refused.append((frame, event))
            await self.error(event.code, event.message, event.param, event.event_id)
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
        """Apply a ``session.update`` (partial update) and answer ``session.updated``."""
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
            update = session.audio.input if session.audio and session.audio.input else None
            if update is not None:
                if update.format is not None and not isinstance(update.format, AudioPCM):
                    message = "The fake server supports only audio/pcm input."
                    await self.error("invalid_value", message, "session.audio.input.format")
                    return
                model = update.transcription.model if update.transcription else None
                allowed = self.scenario.models
                if allowed is not None and model is not None and model not in allowed:
                    message = f"Invalid value: '{model}'. Unsupported transcription model."
                    param = "session.audio.input.transcription.model"
                    await self.error("invalid_value", message, param, event.event_id)
                    return
                changes = {name: getattr(update, name) for name in update.model_fields_set}
                self.input = self.input.model_copy(update=changes)
                self.vad = self._make_vad()
        await self.send(build.session_updated(self._session(), self.server.event_id()))

    async def on_append(self, event: InputAudioBufferAppendEvent) -> bool:
        """Buffer the audio, run the VAD on it, and apply the append-counting scenario switches."""
        self.appends += 1
        try:
            pcm = base64.b64decode(event.audio, validate=True)
        except binascii.Error:
            await self.error("invalid_value", "Invalid base64 audio.", "audio", event.event_id)
            return True
        if len(pcm) % 2:
            message = "Audio must contain whole 16-bit samples."
            await self.error("invalid_value", message, "audio", event.event_id)
            return True
        self.rec.append_sizes.append(len(pcm))
        self.rec.audio += pcm
        scenario = self.scenario
        if scenario.error_after_appends == self.appends and self.rec.index == 0:
            await self.error("scripted_error", "A scripted upstream error.", kind="server_error")
        for boundary in self.vad.feed(samples(pcm)) if self.vad is not None else []:
            if isinstance(boundary, VadStart):
                item = self._new_item()
                self.current = (item, boundary.sample)
                ms = boundary.sample // PER_MS
                await self.send(build.speech_started(item, ms, self.server.event_id()))
            elif self.current is not None:
                item, start = self.current
                self.current = None
                ms = boundary.sample // PER_MS
                await self.send(build.speech_stopped(item, ms, self.server.event_id()))
                await self.commit(item, start, boundary.sample)
        if scenario.drop_after_appends == self.appends and self.rec.index < scenario.drops:
            if scenario.drop_close_code is None:
                self.ws.transport.abort()
            else:
                await self.ws.close(scenario.drop_close_code)
            return False
        return True

    async def on_commit(self, event_id: str | None) -> None:
        """A client commit: refuse under 100 ms, else commit the buffer (ending any speech)."""
        total = len(self.rec.audio) // 2
        buffered = total - self.buffer_start
        if buffered < MIN_COMMIT:
            message = (
                "Error committing input audio buffer: buffer too small. Expected at least 100ms "
                f"of audio, but buffer only has {buffered / PER_MS:.2f}ms of audio."
            )
            await self.error("input_audio_buffer_commit_empty", message, event_id=event_id)
            return
        item, start = self.current if self.current is not None else (self._new_item(), None)
        self.current = None
        if self.vad is not None:
            self.vad.reset(total)
        await self.commit(item, start, total)

    def on_clear(self) -> None:
        """Drop the uncommitted audio and any speech in progress."""
        total = len(self.rec.audio) // 2
        self.buffer_start = total
        self.current = None
        if self.vad is not None:
            self.vad.reset(total)

    # -- server events -------------------------------------------------------------------------

    async def commit(self, item: str, start: int | None, end: int) -> None:
        """Commit audio ``[buffer_start, end)`` as ``item`` and schedule its transcription."""
        audio = samples(bytes(self.rec.audio))[self.buffer_start : end]
        self.buffer_start = end
        previous, self.last_item = self.last_item, item
        await self.send(build.committed(item, previous, self.server.event_id()))
        await self.send(build.item_added(item, previous, self.server.event_id()))
        speech = voiced(audio, self.scenario.vad_threshold)
        frequency = dominant_frequency(speech)
        turn = Turn(
            connection=self.rec.index,
            item_id=item,
            index=self.server.next_turn(),
            start_ms=None if start is None else start // PER_MS,
            end_ms=end // PER_MS,
            frequency=frequency,
            voiced_ms=speech.size // PER_MS,
            text=self.scenario.transcribe(frequency),
        )
        self.server.turns.append(turn)
        if self.input.transcription is not None and self.tasks is not None:
            self.tasks.start_soon(self._transcribe, turn, audio.size / RATE)

    async def _transcribe(self, turn: Turn, seconds: float) -> None:
        scenario = self.scenario
        await anyio.sleep(scenario.completion_delay_s + scenario.extra_delay_s.get(turn.index, 0))
        if scenario.stall_transcription:
            return
        if turn.index in scenario.fail_turns:
            await self.send(build.failed(turn.item_id, "scripted", self.server.event_id()))
            return
        words = turn.text.split(" ") if turn.text else []
        for index, word in enumerate(words):
            piece = word if index == 0 else " " + word
            await self.send(build.delta(turn.item_id, piece, self.server.event_id()))
        done = build.completed(
            turn.item_id, turn.text, round(seconds + 0.5), self.server.event_id()
        )
        await self.send(done)

    async def _expire(self, after_s: float) -> None:
        await anyio.sleep(after_s)
        message = "Your session hit the maximum duration of 60 minutes."
        await self.error("session_expired", message)
        await self.ws.close(1000)

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

    # -- helpers -------------------------------------------------------------------------------

    def _session(self) -> RealtimeTranscriptionSessionCreateRequest | RealtimeSessionCreateRequest:
        if self.conversation:
            return RealtimeSessionCreateRequest(type="realtime")
        return RealtimeTranscriptionSessionCreateRequest(
            type="transcription", audio=RealtimeTranscriptionSessionAudio(input=self.input)
        )

    def _make_vad(self) -> EnergyVad | None:
        """The VAD for the current ``turn_detection``, keeping the old one's state if any."""
        return EnergyVad.for_detection(
            self.input.turn_detection,
            getattr(self, "vad", None),
            threshold=self.scenario.vad_threshold,
            start_at=len(self.rec.audio) // 2,
        )

    def _new_item(self) -> str:
        self.items += 1
        return f"item_{self.rec.index}_{self.items:03d}"
