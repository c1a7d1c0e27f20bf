"""What upstream bills: ``completed.usage`` of every transcription, and the audio we appended.

:class:`UsageTotals` is one process's running sum per model (read by ``/metrics``);
:class:`SessionUsage` is one session's, logged with a cost estimate when the session ends.
Streaming models (and ``gpt-transcribe``, ``whisper-1``) bill audio *duration*, which upstream
rounds up per committed turn; the ``gpt-4o-*`` models bill *tokens*. The estimate multiplies the
billed seconds (or, for token-billed models, the seconds appended) by the published price per
minute in :mod:`~realtime_stt.openai_engine.models`; the invoice is the authority.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from openai.types.realtime.conversation_item_input_audio_transcription_completed_event import (
    UsageTranscriptTextUsageDuration,
    UsageTranscriptTextUsageTokens,
)

from realtime_stt.openai_engine.models import ModelSpec

Usage = UsageTranscriptTextUsageTokens | UsageTranscriptTextUsageDuration


@dataclass(slots=True)
class Tally:
    """Billed quantities of one model (or one session).

    Attributes:
        sent_s: seconds of audio appended upstream.
        billed_s: seconds billed by duration.
        audio_tokens: input audio tokens billed.
        text_tokens: input text tokens billed (prompt, keywords).
        output_tokens: output tokens billed.
        turns: transcriptions that reported usage.
    """

    sent_s: float = 0.0
    billed_s: float = 0.0
    audio_tokens: int = 0
    text_tokens: int = 0
    output_tokens: int = 0
    turns: int = 0

    def add(self, usage: Usage) -> None:
        """Count one ``completed.usage``."""
        self.turns += 1
        if isinstance(usage, UsageTranscriptTextUsageDuration):
            self.billed_s += usage.seconds
            return
        details = usage.input_token_details
        audio = details.audio_tokens if details is not None else None
        text = details.text_tokens if details is not None else None
        self.audio_tokens += audio if audio is not None else usage.input_tokens
        self.text_tokens += text or 0
        self.output_tokens += usage.output_tokens

    def estimate_usd(self, spec: ModelSpec) -> float | None:
        """The cost at the model's published per-minute price (``None`` if unknown)."""
        if spec.usd_per_minute is None:
            return None
        # what upstream reported decides: a duration when it gave one, else the audio sent
        seconds = self.billed_s if spec.billing == "duration" and self.billed_s else self.sent_s
        return seconds * spec.usd_per_minute / 60.0


@dataclass(slots=True)
class UsageTotals:
    """One process's usage, per model name."""

    by_model: dict[str, Tally] = field(default_factory=dict)

    def tally(self, model: str) -> Tally:
        """The running tally of ``model`` (created empty)."""
        found = self.by_model.get(model)
        if found is None:
            found = self.by_model[model] = Tally()
        return found


class SessionUsage:
    """One session's usage, added to the process totals as it comes."""

    def __init__(self, spec: ModelSpec, totals: UsageTotals) -> None:
        self.spec = spec
        self.tally = Tally()
        self._process = totals.tally(spec.name)

    def sent(self, seconds: float) -> None:
        """``seconds`` of audio were appended upstream."""
        self.tally.sent_s += seconds
        self._process.sent_s += seconds

    def completed(self, usage: Usage | None) -> None:
        """A transcription completed with ``usage`` (if upstream sent one)."""
        if usage is not None:
            self.tally.add(usage)
            self._process.add(usage)

    def summary(self, received_s: float) -> str:
        """One log line: audio received, sent and billed, tokens, and the estimated cost."""
        tally = self.tally
        cost = tally.estimate_usd(self.spec)
        shown = "unknown" if cost is None else f"${cost:.4f}"
        return (
            f"model {self.spec.name}: received {received_s:.1f} s, sent {tally.sent_s:.1f} s, "
            f"billed {tally.billed_s:.1f} s and {tally.audio_tokens}+{tally.text_tokens} input / "
            f"{tally.output_tokens} output tokens in {tally.turns} turns; estimated {shown}"
        )
