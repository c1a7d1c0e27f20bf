"""The ``/ws`` wire protocol as typed messages.

Client to server: binary frames are audio; text frames are JSON control messages parsed by
:func:`parse_control` into :data:`ControlMessage`. Server to client: every message is one of the
models in :data:`ServerMessage`, serialised with :func:`encode`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, TypeAdapter, ValidationError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Flush(_Strict):
    """Finalize the utterance in progress now."""

    type: Literal["flush"]


class End(_Strict):
    """No more audio: send every remaining final, then close with 1000."""

    type: Literal["end"]


ControlMessage = Annotated[Flush | End, Discriminator("type")]
_control_adapter: TypeAdapter[Flush | End] = TypeAdapter(ControlMessage)


class ControlError(ValueError):
    """A text frame that is not a valid control message; ``code`` is the wire error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse_control(text: str) -> Flush | End:
    """Parse a text frame, raising :class:`ControlError` with a stable code when it is invalid."""
    try:
        return _control_adapter.validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        kind = first["type"]
        if kind == "json_invalid":
            raise ControlError("invalid_json", "text frames must be JSON objects") from None
        if kind in {"union_tag_invalid", "union_tag_not_found", "model_attributes_type"}:
            msg = 'unknown control message; expected {"type": "flush"} or {"type": "end"}'
            raise ControlError("unknown_message", msg) from None
        where = ".".join(str(part) for part in first["loc"][1:]) or "message"
        raise ControlError("invalid_message", f"{where}: {first['msg']}") from None


class Span(_Strict):
    """Seconds of this session's own audio."""

    start_s: float = Field(ge=0)
    end_s: float = Field(ge=0)


class Word(_Strict):
    """One word of a final with its times in session seconds."""

    word: str
    start_s: float
    end_s: float


class Ready(_Strict):
    """Sent once, right after the WebSocket is accepted."""

    type: Literal["ready"] = "ready"
    session_id: str
    engine: str
    model: str
    language: str
    sample_rate: int


class SpeechStarted(_Strict):
    """The engine heard the start of utterance ``segment_id``."""

    type: Literal["speech_started"] = "speech_started"
    segment_id: int
    ts: Span


class Partial(_Strict):
    """The live guess for utterance ``segment_id``; a later partial or the final replaces it."""

    type: Literal["partial"] = "partial"
    segment_id: int
    text: str
    ts: Span


class Final(_Strict):
    """The text of utterance ``segment_id``; exactly one per segment."""

    type: Literal["final"] = "final"
    segment_id: int
    text: str
    ts: Span
    words: list[Word] | None = None


class Error(_Strict):
    """A problem the client should know about; ``code`` is stable, ``message`` is for people."""

    type: Literal["error"] = "error"
    code: str
    message: str
    segment_id: int | None = None


ServerMessage = Annotated[Ready | SpeechStarted | Partial | Final | Error, Discriminator("type")]
server_message_adapter: TypeAdapter[Ready | SpeechStarted | Partial | Final | Error] = TypeAdapter(
    ServerMessage
)


def encode(message: Ready | SpeechStarted | Partial | Final | Error) -> str:
    """Serialise a server message as compact JSON, leaving out unset optional fields."""
    return message.model_dump_json(exclude_none=True)
