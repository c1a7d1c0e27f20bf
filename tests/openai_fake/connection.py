"""One transcription session of the fake: configuration, audio buffer, VAD, items and their text.

Plumbing (event loop, validation, errors) is :class:`~tests.openai_fake.transport.ConnectionBase`.
The session starts with ``transcription: null`` and server VAD (0.5 / 300 ms / 200 ms, as the
service's ``session.created`` shows). ``session.update`` is checked per model
(:mod:`tests.openai_fake.rules`) and refused as a whole, or applied field by field. Then:

* **Turn-based models** (and no model): with server or semantic VAD, the fake's energy VAD sends
  ``speech_started``/``speech_stopped`` and commits; with ``turn_detection: null`` only client
  commits make items. No text before the commit; after ``completion_delay_s`` every word as a
  delta (``whisper-1``: the whole turn in one delta), then ``completed``.
* **Streaming models** (``turn_detection`` is ``null``, enforced): no speech events; while voiced
  audio is appended, append-only deltas for the item the next commit will create, paced by
  :class:`~tests.openai_fake.streaming.LiveTranscript`, the last word held back; after the commit
  and ``completion_delay_s``, the remaining words and ``completed``.

Every commit of at least 100 ms (speech or silence) gives ``input_audio_buffer.committed``
(with ``previous_item_id``) and ``conversation.item.added``, and ``completed`` carries the model's
``usage`` (:mod:`tests.openai_fake.billing`). A commit under 100 ms gets
``input_audio_buffer_commit_empty`` for that commit's ``event_id`` and changes nothing.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

import anyio
from openai.types.realtime import (
    InputAudioBufferAppendEvent,
    RealtimeTranscriptionSessionAudio,
    RealtimeTranscriptionSessionAudioInput,
    RealtimeTranscriptionSessionCreateRequest,
)
from openai.types.realtime.conversation_item_input_audio_transcription_completed_event import (
    Usage,
)
from openai.types.realtime.realtime_audio_formats import AudioPCM
from openai.types.realtime.realtime_session_create_request import RealtimeSessionCreateRequest
from openai.types.realtime.realtime_transcription_session_audio_input_turn_detection import (
    ServerVad,
)
from websockets.asyncio.server import ServerConnection

from . import server_events as build
from .audio import RATE, Samples, dominant_frequency, samples, voiced
from .billing import usage_for
from .models import DEFAULT_DELAY, FIRST_DELTA_S, MODELS, FakeModel
from .rules import check_update
from .scenario import ConnectionRecord, Turn
from .streaming import LiveTranscript, pieces, split_words
from .transport import ConnectionBase
from .vad import EnergyVad, VadStart
from .validation import Problem

if TYPE_CHECKING:
    from .server import FakeRealtimeServer

PER_MS = RATE // 1000
MIN_COMMIT = RATE // 10


class FakeConnection(ConnectionBase):
    """Serves one transcription session; see the module docstring for the rules."""

    live_keep_s: float | None = None
    """Voiced audio a :class:`LiveTranscript` keeps for its text (``None``: all of it)."""

    def __init__(self, server: FakeRealtimeServer, ws: ServerConnection, rec: ConnectionRecord):
        super().__init__(server, ws, rec)
        self.input = RealtimeTranscriptionSessionAudioInput(
            format=AudioPCM(type="audio/pcm", rate=24000),
            noise_reduction=None,
            transcription=None,
            turn_detection=ServerVad(
                type="server_vad", threshold=0.5, prefix_padding_ms=300, silence_duration_ms=200
            ),
        )
        self.vad: EnergyVad | None = self._make_vad()
        self.live: LiveTranscript | None = None
        self.buffer_start = 0
        self.current: tuple[str, int] | None = None
        self.pending: str | None = None
        self.last_item: str | None = None
        self.appends = 0
        self.items = 0

    @property
    def model(self) -> FakeModel | None:
        """The configured transcription model (``None`` before one is set)."""
        transcription = self.input.transcription
        return MODELS.get(transcription.model or "") if transcription is not None else None

    # -- client events -------------------------------------------------------------------------

    def apply(
        self, session: RealtimeTranscriptionSessionCreateRequest, event_id: str | None
    ) -> Problem | None:
        """Check the update per model, then apply its ``audio.input`` fields."""
        update = session.audio.input if session.audio and session.audio.input else None
        if update is None:
            return None
        problem = check_update(self.input, update, allowed=self.scenario.models, event_id=event_id)
        if problem is not None:
            return problem
        changes = {name: getattr(update, name) for name in update.model_fields_set}
        self.input = self.input.model_copy(update=changes)
        self.vad = self._make_vad()
        self.live = self._make_live()
        return None

    async def on_append(self, event: InputAudioBufferAppendEvent) -> bool:
        """Buffer the audio, run the VAD or the live transcript on it, apply the scenario."""
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
        if self.live is not None and not scenario.stall_transcription:
            for piece in self.live.feed(samples(pcm)):
                self.pending = self.pending or self._new_item()
                await self.send(build.delta(self.pending, piece, self.server.event_id()))
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
        start = self.current[1] if self.current is not None else None
        item = self.pending or (self.current[0] if self.current else None) or self._new_item()
        self.current = None
        if self.vad is not None:
            self.vad.reset(total)
        await self.commit(item, start, total)

    def on_clear(self) -> None:
        """Drop the uncommitted audio, any speech in progress and any streamed words."""
        total = len(self.rec.audio) // 2
        self.buffer_start = total
        self.current = None
        self.pending = None
        if self.vad is not None:
            self.vad.reset(total)
        if self.live is not None:
            self.live.clear()

    # -- items ---------------------------------------------------------------------------------

    async def commit(self, item: str, start: int | None, end: int) -> None:
        """Commit audio ``[buffer_start, end)`` as ``item`` and schedule its transcription."""
        audio = self.take_audio(end)
        previous, self.last_item = self.last_item, item
        self.pending = None
        await self.send(build.committed(item, previous, self.server.event_id()))
        await self.send(build.item_added(item, previous, self.server.event_id()))
        frequency, voiced_ms = self.hear(audio)
        seconds = audio.size / RATE
        turn = Turn(
            connection=self.rec.index,
            item_id=item,
            index=self.server.next_turn(),
            start_ms=None if start is None else start // PER_MS,
            end_ms=end // PER_MS,
            frequency=frequency,
            voiced_ms=voiced_ms,
            text=self.scenario.transcribe(frequency),
            seconds=seconds,
        )
        self.keep_turn(turn)
        model, transcription = self.model, self.input.transcription
        if self.live is not None:
            owed = self.live.commit(turn.text)
        elif model is not None and model.whole_turn_delta:
            owed = [turn.text] if turn.text else []
        else:
            owed = pieces(split_words(turn.text), 0)
        if model is not None and transcription is not None and self.tasks is not None:
            usage = usage_for(model, transcription, seconds, turn.text)
            self.tasks.start_soon(self._transcribe, turn, owed, usage)

    async def _transcribe(self, turn: Turn, owed: list[str], usage: Usage) -> None:
        scenario = self.scenario
        await anyio.sleep(scenario.completion_delay_s + scenario.extra_delay_s.get(turn.index, 0))
        if scenario.stall_transcription or turn.index in scenario.stall_turns:
            return
        if turn.index in scenario.fail_turns:
            await self.send(build.failed(turn.item_id, "scripted", self.server.event_id()))
            return
        for piece in owed:
            await self.send(build.delta(turn.item_id, piece, self.server.event_id()))
        text = self.final_transcript(turn.text)
        done = build.completed(turn.item_id, text, event_id=self.server.event_id(), usage=usage)
        if usage.type == "duration":
            self.rec.billed_s += usage.seconds
        await self.send(done)

    # -- hooks (the benchmark's fake overrides them) -------------------------------------------

    def take_audio(self, end: int) -> Samples:
        """The uncommitted samples up to ``end``; the buffer then starts at ``end``."""
        audio = samples(bytes(self.rec.audio[2 * self.buffer_start : 2 * end]))
        self.buffer_start = end
        return audio

    def hear(self, audio: Samples) -> tuple[float | None, int]:
        """(dominant frequency, ms) of the voiced frames of a committed buffer."""
        speech = voiced(audio, self.scenario.vad_threshold)
        return dominant_frequency(speech), speech.size // PER_MS

    def keep_turn(self, turn: Turn) -> None:
        """Record a committed item for the tests."""
        self.server.turns.append(turn)

    def final_transcript(self, text: str) -> str:
        """The ``completed`` transcript for scripted ``text``."""
        return text

    # -- helpers -------------------------------------------------------------------------------

    def session(self) -> RealtimeTranscriptionSessionCreateRequest | RealtimeSessionCreateRequest:
        """The effective configuration, as ``session.created``/``updated`` carry it."""
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

    def _make_live(self) -> LiveTranscript | None:
        """The live transcript for a streaming model (the current one, retuned, if any)."""
        model, transcription = self.model, self.input.transcription
        if model is None or transcription is None or not model.streaming:
            return None
        first = self.scenario.first_delta_s
        if first is None:
            first = FIRST_DELTA_S[transcription.delay or DEFAULT_DELAY]
        if self.live is not None:
            self.live.retune(first_delta_s=first)
            return self.live
        transcribe = self.scenario.transcribe
        return LiveTranscript(
            lambda audio: transcribe(dominant_frequency(audio)),
            threshold=self.scenario.vad_threshold,
            first_delta_s=first,
            word_s=self.scenario.word_s,
            keep_s=self.live_keep_s,
        )

    def _new_item(self) -> str:
        self.items += 1
        return f"item_{self.rec.index}_{self.items:03d}"
