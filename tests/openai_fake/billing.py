"""The ``usage`` of a ``...transcription.completed`` event, per the model's billing.

* ``duration`` (``whisper-1``, the streaming models): ``{"type": "duration", "seconds":
  ceil(seconds of audio in the committed buffer)}``, speech or silence alike.
* ``tokens`` (the ``gpt-4o-*`` models, ``gpt-transcribe``): :data:`AUDIO_TOKENS_PER_S` audio
  tokens per second of committed audio (rounded up), one text token per word of ``prompt`` and
  ``keywords``, and one output token per transcript word plus one (the end of text);
  ``input_tokens`` = audio + text, ``total_tokens`` = input + output.
"""

from __future__ import annotations

import math

from openai.types.realtime import AudioTranscription
from openai.types.realtime.conversation_item_input_audio_transcription_completed_event import (
    Usage,
    UsageTranscriptTextUsageDuration,
    UsageTranscriptTextUsageTokens,
    UsageTranscriptTextUsageTokensInputTokenDetails,
)

from .models import FakeModel

AUDIO_TOKENS_PER_S = 10


def usage_for(
    model: FakeModel, transcription: AudioTranscription, seconds: float, text: str
) -> Usage:
    """What ``model`` bills for ``seconds`` of committed audio transcribed as ``text``."""
    if model.billing == "duration":
        return UsageTranscriptTextUsageDuration(
            type="duration", seconds=math.ceil(round(seconds, 6))
        )
    audio = math.ceil(round(seconds * AUDIO_TOKENS_PER_S, 6))
    guidance = [transcription.prompt or "", *(transcription.keywords or [])]
    text_tokens = sum(len(part.split()) for part in guidance)
    output = len(text.split()) + 1
    details = UsageTranscriptTextUsageTokensInputTokenDetails(
        audio_tokens=audio, text_tokens=text_tokens
    )
    return UsageTranscriptTextUsageTokens(
        type="tokens",
        input_tokens=audio + text_tokens,
        output_tokens=output,
        total_tokens=audio + text_tokens + output,
        input_token_details=details,
    )
