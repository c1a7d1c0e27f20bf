"""Prometheus metrics of one process, served at ``GET /metrics``.

Each app has its own :class:`Metrics` with its own registry (several apps may live in one test
process). Every series carries the ``instance`` label so that scrapes of several instances can be
told apart. A session counts through its :class:`SessionMetrics`, which also times its finals.

``/metrics`` is collected on the event loop, the thread that changes what the collectors read
(the set of live outboxes, the engine's usage totals): a scrape in a worker thread could iterate
them while the loop changes them.
"""

from __future__ import annotations

import bisect
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from realtime_stt import wire
from realtime_stt.openai_engine.models import model_spec
from realtime_stt.openai_engine.usage import UsageTotals
from realtime_stt.outbox import Message, Outbox

LATENCY_BUCKETS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0)


class Metrics:
    """The service's counters, gauges and histograms."""

    def __init__(
        self,
        instance: str,
        engine_busy: Callable[[], float] | None = None,
        *,
        usage: UsageTotals | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        labels = ["instance"]
        self._instance = instance
        self._outboxes: weakref.WeakSet[Outbox] = weakref.WeakSet()
        self._sent_by_kind: dict[str, Counter] = {}
        reg = self.registry
        self.sessions_open = Gauge(
            "stt_sessions_open", "Open /ws sessions.", labels, registry=reg
        ).labels(instance)
        self.audio_seconds = Counter(
            "stt_audio_received_seconds", "Seconds of audio received.", labels, registry=reg
        ).labels(instance)
        self._messages = Counter(
            "stt_messages_sent", "Messages sent to clients.", [*labels, "type"], registry=reg
        )
        self._errors = Counter(
            "stt_errors", "Error messages sent, by code.", [*labels, "code"], registry=reg
        )
        self.final_latency = Histogram(
            "stt_final_latency_seconds",
            "From receiving the audio a final ends with to sending the final.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=reg,
        ).labels(instance)
        self.dropped_partials = Counter(
            "stt_partials_dropped", "Stale partials dropped for slow clients.", labels, registry=reg
        ).labels(instance)
        queued = Gauge("stt_outbox_queued", "Messages queued to clients.", labels, registry=reg)
        queued.labels(instance).set_function(lambda: float(sum(len(o) for o in self._outboxes)))
        busy = Gauge(
            "stt_engine_busy_seconds", "Worker-thread seconds spent in the engine.", labels,
            registry=reg,
        )  # fmt: skip
        busy.labels(instance).set_function(engine_busy or (lambda: 0.0))
        if usage is not None:
            reg.register(_UsageCollector(instance, usage))

    def track_outbox(self, outbox: Outbox) -> None:
        """Count ``outbox`` in the queue-depth gauge while it lives."""
        self._outboxes.add(outbox)

    def message_sent(self, kind: str) -> None:
        """Count one message of ``kind`` sent to a client (the labelled child is looked up once
        per kind: this runs for every message)."""
        counter = self._sent_by_kind.get(kind)
        if counter is None:
            counter = self._sent_by_kind[kind] = self._messages.labels(self._instance, kind)
        counter.inc()

    def error_sent(self, code: str) -> None:
        """Count one error message with ``code``."""
        self._errors.labels(self._instance, code).inc()


class SessionMetrics:
    """One session's counts in :class:`Metrics`, and the latency of each of its finals: from the
    arrival of the client's chunk that holds the final's last sample to the final's sending."""

    ARRIVALS_KEPT = 2048
    """Chunk arrival times kept; a final older than these is not timed."""

    def __init__(self, metrics: Metrics, sample_rate: int) -> None:
        """``sample_rate``: the client's audio rate."""
        self._metrics = metrics
        self._rate = sample_rate
        self._arrivals: deque[tuple[int, float]] = deque(maxlen=self.ARRIVALS_KEPT)

    def audio_received(self, samples: int, received: int) -> None:
        """A chunk of ``samples`` arrived; ``received``: the session's samples so far, this
        chunk included."""
        self._metrics.audio_seconds.inc(samples / self._rate)
        self._arrivals.append((received, time.monotonic()))

    def sent(self, message: Message) -> None:
        """``message`` went out to the client."""
        self._metrics.message_sent(message.type)
        if isinstance(message, wire.Error):
            self._metrics.error_sent(message.code)
        elif isinstance(message, wire.Final):
            end = message.ts.end_s * self._rate
            index = bisect.bisect_left(self._arrivals, end, key=_received)
            if index < len(self._arrivals):
                latency = time.monotonic() - self._arrivals[index][1]
                self._metrics.final_latency.observe(latency)

    def error(self, code: str) -> None:
        """The session ended for ``code`` without a message saying so (the client could not
        take one)."""
        self._metrics.error_sent(code)


def _received(arrival: tuple[int, float]) -> int:
    return arrival[0]


class _UsageCollector(Collector):
    """Upstream usage per model, read from the engine's running totals at each scrape."""

    def __init__(self, instance: str, usage: UsageTotals) -> None:
        self._instance = instance
        self._usage = usage

    def collect(self) -> Iterator[Metric]:
        sent = CounterMetricFamily(
            "stt_upstream_audio_sent_seconds",
            "Seconds of audio appended upstream.",
            labels=["instance", "model"],
        )
        billed = CounterMetricFamily(
            "stt_upstream_billed_audio_seconds",
            "Seconds of audio upstream billed by duration (completed.usage).",
            labels=["instance", "model"],
        )
        tokens = CounterMetricFamily(
            "stt_upstream_billed_tokens",
            "Tokens upstream billed (completed.usage), by kind.",
            labels=["instance", "model", "kind"],
        )
        cost = CounterMetricFamily(
            "stt_upstream_estimated_cost_usd",
            "Estimated cost at the model's published price per minute.",
            labels=["instance", "model"],
        )
        for model, tally in list(self._usage.by_model.items()):
            labels = [self._instance, model]
            sent.add_metric(labels, tally.sent_s)
            billed.add_metric(labels, tally.billed_s)
            for kind, count in (
                ("input_audio", tally.audio_tokens),
                ("input_text", tally.text_tokens),
                ("output", tally.output_tokens),
            ):
                tokens.add_metric([*labels, kind], count)
            estimate = tally.estimate_usd(model_spec(model))
            if estimate is not None:
                cost.add_metric(labels, estimate)
        yield from (sent, billed, tokens, cost)


router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """The Prometheus text exposition of this process's metrics."""
    registry: Metrics = request.app.state.metrics
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)
