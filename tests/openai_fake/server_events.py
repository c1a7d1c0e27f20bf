"""Builders for GA server events as SDK models (used by the fake server and by unit tests)."""

from __future__ import annotations

from openai.types.realtime import (
    ConversationItemAdded,
    ConversationItemInputAudioTranscriptionCompletedEvent,
    ConversationItemInputAudioTranscriptionDeltaEvent,
    ConversationItemInputAudioTranscriptionFailedEvent,
    InputAudioBufferClearedEvent,
    InputAudioBufferCommittedEvent,
    InputAudioBufferSpeechStartedEvent,
    InputAudioBufferSpeechStoppedEvent,
    RealtimeConversationItemUserMessage,
    RealtimeError,
    RealtimeErrorEvent,
    RealtimeTranscriptionSessionCreateRequest,
    SessionCreatedEvent,
    SessionUpdatedEvent,
)
from openai.types.realtime.conversation_item_input_audio_transcription_completed_event import (
    Usage,
    UsageTranscriptTextUsageDuration,
)
from openai.types.realtime.conversation_item_input_audio_transcription_failed_event import (
    Error as FailedError,
)
from openai.types.realtime.realtime_conversation_item_user_message import Content
from openai.types.realtime.realtime_session_create_request import RealtimeSessionCreateRequest

Session = RealtimeTranscriptionSessionCreateRequest | RealtimeSessionCreateRequest


def session_created(session: Session, event_id: str = "e") -> SessionCreatedEvent:
    """``session.created`` with the session's initial configuration."""
    return SessionCreatedEvent(type="session.created", event_id=event_id, session=session)


def session_updated(session: Session, event_id: str = "e") -> SessionUpdatedEvent:
    """``session.updated`` with the effective configuration."""
    return SessionUpdatedEvent(type="session.updated", event_id=event_id, session=session)


def speech_started(item: str, ms: int, event_id: str = "e") -> InputAudioBufferSpeechStartedEvent:
    """``input_audio_buffer.speech_started`` at connection time ``ms``."""
    return InputAudioBufferSpeechStartedEvent(
        type="input_audio_buffer.speech_started", event_id=event_id, item_id=item, audio_start_ms=ms
    )


def speech_stopped(item: str, ms: int, event_id: str = "e") -> InputAudioBufferSpeechStoppedEvent:
    """``input_audio_buffer.speech_stopped`` at connection time ``ms``."""
    return InputAudioBufferSpeechStoppedEvent(
        type="input_audio_buffer.speech_stopped", event_id=event_id, item_id=item, audio_end_ms=ms
    )


def committed(
    item: str, previous: str | None = None, event_id: str = "e"
) -> InputAudioBufferCommittedEvent:
    """``input_audio_buffer.committed`` naming the previously committed item."""
    return InputAudioBufferCommittedEvent(
        type="input_audio_buffer.committed",
        event_id=event_id,
        item_id=item,
        previous_item_id=previous,
    )


def item_added(item: str, previous: str | None, event_id: str = "e") -> ConversationItemAdded:
    """``conversation.item.added`` for a committed user audio item (no transcript yet)."""
    message = RealtimeConversationItemUserMessage(
        id=item,
        type="message",
        role="user",
        status="completed",
        object="realtime.item",
        content=[Content(type="input_audio", transcript=None)],
    )
    return ConversationItemAdded(
        type="conversation.item.added", event_id=event_id, item=message, previous_item_id=previous
    )


def cleared(event_id: str = "e") -> InputAudioBufferClearedEvent:
    """``input_audio_buffer.cleared``."""
    return InputAudioBufferClearedEvent(type="input_audio_buffer.cleared", event_id=event_id)


def delta(
    item: str, text: str, event_id: str = "e"
) -> ConversationItemInputAudioTranscriptionDeltaEvent:
    """One incremental transcription delta."""
    return ConversationItemInputAudioTranscriptionDeltaEvent(
        type="conversation.item.input_audio_transcription.delta",
        event_id=event_id,
        item_id=item,
        content_index=0,
        delta=text,
    )


def completed(
    item: str, text: str, seconds: float = 1.0, event_id: str = "e", *, usage: Usage | None = None
) -> ConversationItemInputAudioTranscriptionCompletedEvent:
    """The completed transcript of an item with its ``usage`` (default: ``seconds`` billed by
    duration)."""
    return ConversationItemInputAudioTranscriptionCompletedEvent(
        type="conversation.item.input_audio_transcription.completed",
        event_id=event_id,
        item_id=item,
        content_index=0,
        transcript=text,
        usage=usage or UsageTranscriptTextUsageDuration(type="duration", seconds=seconds),
    )


def failed(
    item: str, message: str = "boom", event_id: str = "e"
) -> ConversationItemInputAudioTranscriptionFailedEvent:
    """A per-item transcription failure."""
    return ConversationItemInputAudioTranscriptionFailedEvent(
        type="conversation.item.input_audio_transcription.failed",
        event_id=event_id,
        item_id=item,
        content_index=0,
        error=FailedError(type="server_error", code="audio_unintelligible", message=message),
    )


def error(
    code: str | None,
    message: str = "m",
    *,
    param: str | None = None,
    client_event_id: str | None = None,
    kind: str = "invalid_request_error",
    event_id: str = "e",
) -> RealtimeErrorEvent:
    """An ``error`` event; ``client_event_id`` names the client event it is about."""
    body = RealtimeError(
        type=kind, code=code, message=message, param=param, event_id=client_event_id
    )
    return RealtimeErrorEvent(type="error", event_id=event_id, error=body)
