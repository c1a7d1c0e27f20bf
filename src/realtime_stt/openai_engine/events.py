"""GA Realtime wire format: client events built, and server events parsed, with the SDK's types.

Only the GA transcription protocol is spoken. The URL is ``<base>/realtime?intent=transcription``
(``http``/``https`` in ``OPENAI_BASE_URL`` become ``ws``/``wss``, as the ``openai`` SDK does),
with no ``model`` parameter and no ``OpenAI-Beta`` header. Client events are instances of the SDK
models in ``openai.types.realtime`` serialised with only the fields we set, so a misspelt field is
a type error rather than a silently ignored key. Server frames are validated against the SDK's
``RealtimeServerEvent`` union; a frame that matches no member is logged and dropped (``None``).
"""

from __future__ import annotations

import base64
import json
import logging
from typing import get_args
from urllib.parse import urlsplit, urlunsplit

import openai.types.realtime as rt
from openai.types.realtime import (
    AudioTranscription,
    InputAudioBufferAppendEvent,
    InputAudioBufferClearEvent,
    InputAudioBufferCommitEvent,
    RealtimeServerEvent,
    RealtimeTranscriptionSessionAudio,
    RealtimeTranscriptionSessionAudioInput,
    RealtimeTranscriptionSessionCreateRequest,
    SessionUpdateEvent,
)
from openai.types.realtime.realtime_audio_formats import AudioPCM
from openai.types.realtime.realtime_transcription_session_audio_input import NoiseReduction
from openai.types.realtime.realtime_transcription_session_audio_input_turn_detection import (
    SemanticVad,
    ServerVad,
)
from pydantic import BaseModel, TypeAdapter, ValidationError

from realtime_stt.openai_engine.config import TranscriptionConfig
from realtime_stt.openai_engine.tuning import SAMPLE_RATE

log = logging.getLogger(__name__)

_SERVER_EVENTS: TypeAdapter[RealtimeServerEvent] = TypeAdapter(RealtimeServerEvent)
_WS_SCHEMES = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}


def realtime_url(base_url: str) -> str:
    """The transcription WebSocket URL for an API base URL such as ``https://api.openai.com/v1``.

    Raises:
        ValueError: the base URL is not http(s) or ws(s), or has no host.
    """
    parts = urlsplit(base_url)
    scheme = _WS_SCHEMES.get(parts.scheme.lower())
    if scheme is None or not parts.netloc:
        msg = f"OPENAI_BASE_URL must be an http(s) URL with a host, not {base_url!r}"
        raise ValueError(msg)
    path = parts.path.rstrip("/") + "/realtime"
    return urlunsplit((scheme, parts.netloc, path, "intent=transcription", ""))


def session_update(config: TranscriptionConfig, language: str) -> str:
    """``session.update`` for a transcription session in ``language``: 24 kHz PCM, explicit values.

    Every value is sent explicitly (upstream's defaults differ from the documented ones): the
    turn detection (``null`` when we commit turns ourselves, as the streaming models require),
    and ``noise_reduction`` (``none`` is sent as ``null``). Fields the model does not take are
    never sent; an empty prompt, keyword list or delay is omitted. ``languages``, when
    configured, replaces ``language`` (upstream refuses both together).
    """
    fields: dict[str, object] = {"model": config.model.name}
    if config.languages:
        fields["languages"] = list(config.languages)
    else:
        fields["language"] = language
    if config.prompt and config.model.prompt:
        fields["prompt"] = config.prompt
    if config.keywords and config.model.keywords:
        fields["keywords"] = list(config.keywords)
    if config.delay is not None and config.model.delay:
        fields["delay"] = config.delay
    noise = (
        None if config.noise_reduction == "none" else NoiseReduction(type=config.noise_reduction)
    )
    audio_input = RealtimeTranscriptionSessionAudioInput(
        format=AudioPCM(type="audio/pcm", rate=SAMPLE_RATE),
        noise_reduction=noise,
        transcription=AudioTranscription.model_validate(fields),
        turn_detection=_turn_detection(config),
    )
    session = RealtimeTranscriptionSessionCreateRequest(
        type="transcription", audio=RealtimeTranscriptionSessionAudio(input=audio_input)
    )
    return SessionUpdateEvent(type="session.update", session=session).to_json(indent=None)


def _turn_detection(config: TranscriptionConfig) -> ServerVad | SemanticVad | None:
    if config.turn_detection == "server_vad":
        return ServerVad(
            type="server_vad",
            threshold=config.vad_threshold,
            prefix_padding_ms=config.prefix_padding_ms,
            silence_duration_ms=config.silence_duration_ms,
        )
    if config.turn_detection == "semantic_vad":
        return SemanticVad(type="semantic_vad", eagerness="auto")
    return None


_APPEND_HEAD, _APPEND_TAIL = (
    InputAudioBufferAppendEvent(type="input_audio_buffer.append", audio="\x00")
    .to_json(indent=None)
    .split("\\u0000")
)


def append_event(pcm: bytes) -> str:
    """``input_audio_buffer.append`` carrying ``pcm`` (PCM16 LE mono, 24 kHz) as base64.

    This is the one event sent for every chunk, so it is the SDK model's own JSON, rendered once
    at import with a placeholder, with the base64 (which never needs JSON escaping) put in its
    place: a third of the cost of building the model each time.
    """
    return _APPEND_HEAD + base64.b64encode(pcm).decode("ascii") + _APPEND_TAIL


def commit_event(event_id: str) -> str:
    """``input_audio_buffer.commit``; upstream echoes ``event_id`` in an error about it."""
    event = InputAudioBufferCommitEvent(type="input_audio_buffer.commit", event_id=event_id)
    return event.to_json(indent=None)


def clear_event(event_id: str) -> str:
    """``input_audio_buffer.clear``: drop the uncommitted audio upstream."""
    event = InputAudioBufferClearEvent(type="input_audio_buffer.clear", event_id=event_id)
    return event.to_json(indent=None)


_HANDLED: dict[str, type[BaseModel]] = {
    get_args(model.model_fields["type"].annotation)[0]: model
    for model in (
        rt.SessionCreatedEvent,
        rt.SessionUpdatedEvent,
        rt.RealtimeErrorEvent,
        rt.InputAudioBufferSpeechStartedEvent,
        rt.InputAudioBufferSpeechStoppedEvent,
        rt.InputAudioBufferCommittedEvent,
        rt.ConversationItemInputAudioTranscriptionDeltaEvent,
        rt.ConversationItemInputAudioTranscriptionCompletedEvent,
        rt.ConversationItemInputAudioTranscriptionFailedEvent,
    )
}
"""The server events the engine acts on, by ``type``; others are skipped without validation
(checking every frame against the whole server-event union cost 15 % of the proxy's CPU)."""


def parse_server_event(frame: str | bytes) -> RealtimeServerEvent | None:
    """The typed server event in ``frame``, or ``None`` (logged) when the engine ignores it.

    Only the types in :data:`_HANDLED` are validated, each against its own GA model; a frame of
    one of those types that does not match its model is ignored and logged.
    """
    try:
        value = json.loads(frame)
    except ValueError:
        log.debug("ignoring a server frame that is not JSON")
        return None
    kind = value.get("type") if isinstance(value, dict) else None
    model = _HANDLED.get(kind) if isinstance(kind, str) else None
    if model is None:
        return None
    try:
        event: RealtimeServerEvent = _SERVER_EVENTS.validate_python(model.model_validate(value))
    except ValidationError:
        log.warning("ignoring a malformed %s event", kind)
        return None
    return event


def _frame_type(frame: str | bytes) -> str:
    try:
        value = json.loads(frame)
    except ValueError:
        return "<not JSON>"
    kind = value.get("type") if isinstance(value, dict) else None
    return kind if isinstance(kind, str) else "<untyped>"
