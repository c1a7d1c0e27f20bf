"""Prometheus metrics of one process, served at ``GET /metrics``.

Each app has its own :class:`Metrics` with its own registry (several apps may live in one test
process). Every series carries the ``instance`` label so that scrapes of several instances can be
told apart.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from realtime_stt.outbox import Outbox

LATENCY_BUCKETS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0)


class Metrics:
    """The service's counters, gauges and histograms."""

    def __init__(self, instance: str, engine_busy: Callable[[], float] | None = None) -> None:
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


router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """The Prometheus text exposition of this process's metrics."""
    registry: Metrics = request.app.state.metrics
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)
