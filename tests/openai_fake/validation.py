"""Strict validation of client frames against the SDK's GA client-event types.

:func:`validate_client_frame` accepts a frame only if it is a JSON object whose ``type`` names a
member of ``openai.types.realtime.RealtimeClientEvent`` and which validates as that model with no
field the model does not declare (the SDK models allow extras; upstream does not). Refusals are
:class:`Problem` values shaped like upstream's ``invalid_request_error`` errors, including the
live-observed ``integer_below_min_value`` for a PCM ``rate`` under 24000.
"""

from __future__ import annotations

import json
import typing
from dataclasses import dataclass

from openai.types.realtime import RealtimeClientEvent
from pydantic import BaseModel, ValidationError

_MEMBERS: tuple[type[BaseModel], ...] = typing.get_args(typing.get_args(RealtimeClientEvent)[0])
CLIENT_EVENTS: dict[str, type[BaseModel]] = {
    typing.get_args(member.model_fields["type"].annotation)[0]: member for member in _MEMBERS
}
RATE_PARAM = "session.audio.input.format.rate"


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a client frame was refused, as upstream's ``error.code``/``param``/``message``."""

    code: str
    message: str
    param: str | None = None
    event_id: str | None = None


def validate_client_frame(frame: str | bytes) -> BaseModel | Problem:
    """The SDK model for ``frame``, or the :class:`Problem` upstream would report."""
    if isinstance(frame, bytes):
        return Problem("invalid_value", "Binary frames are not supported; send JSON text.")
    try:
        raw = json.loads(frame)
    except ValueError:
        return Problem("invalid_json", "The client event is not valid JSON.")
    if not isinstance(raw, dict):
        return Problem("invalid_value", "The client event must be a JSON object.")
    event_id = raw.get("event_id") if isinstance(raw.get("event_id"), str) else None
    kind = raw.get("type")
    if not isinstance(kind, str):
        return Problem("missing_required_parameter", "Missing 'type'.", "type", event_id)
    model = CLIENT_EVENTS.get(kind)
    if model is None:
        known = ", ".join(sorted(CLIENT_EVENTS))
        message = f"Invalid value: '{kind}'. Supported values are: {known}."
        return Problem("invalid_value", message, "type", event_id)
    rate_problem = _rate_problem(raw)
    if rate_problem is not None:
        return Problem(rate_problem[0], rate_problem[1], RATE_PARAM, event_id)
    try:
        event = model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(part) for part in first["loc"])
        code = "missing_required_parameter" if first["type"] == "missing" else "invalid_value"
        return Problem(code, f"Invalid '{param}': {first['msg']}.", param, event_id)
    extra = _first_extra(event, "")
    if extra is not None:
        return Problem("unknown_parameter", f"Unknown parameter: '{extra}'.", extra, event_id)
    return event


def _rate_problem(raw: dict[str, object]) -> tuple[str, str] | None:
    node: object = raw
    for key in ("session", "audio", "input", "format"):
        node = node.get(key) if isinstance(node, dict) else None
    if not isinstance(node, dict) or node.get("type") != "audio/pcm" or "rate" not in node:
        return None
    rate = node["rate"]
    if rate == 24000:
        return None
    if isinstance(rate, int) and rate < 24000:
        message = (
            f"Invalid '{RATE_PARAM}': integer below minimum value. Expected >= 24000, got {rate}."
        )
        return "integer_below_min_value", message
    return "invalid_value", f"Invalid '{RATE_PARAM}': only 24000 is supported, got {rate!r}."


def _first_extra(value: object, path: str) -> str | None:
    if isinstance(value, BaseModel):
        for key in value.model_extra or {}:
            return f"{path}.{key}" if path else key
        for name in type(value).model_fields:
            found = _first_extra(getattr(value, name), f"{path}.{name}" if path else name)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _first_extra(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None
