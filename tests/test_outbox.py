"""The outbound queue's drop policy: stale partials go, finals never do."""

from __future__ import annotations

import asyncio

from realtime_stt import wire
from realtime_stt.outbox import CloseRequest, Outbox

SPAN = wire.Span(start_s=0.0, end_s=1.0)


def partial(segment: int, text: str) -> wire.Partial:
    return wire.Partial(segment_id=segment, text=text, ts=SPAN)


def final(segment: int) -> wire.Final:
    return wire.Final(segment_id=segment, text="done", ts=SPAN)


def drain(outbox: Outbox) -> list[object]:
    async def run() -> list[object]:
        items: list[object] = []
        while True:
            item = await outbox.get()
            items.append(item)
            if isinstance(item, CloseRequest):
                return items

    outbox.close(1000)
    return asyncio.run(run())


class TestOutbox:
    def test_newer_partial_replaces_the_queued_one(self) -> None:
        """Only the newest partial of a segment stays queued."""
        outbox = Outbox(4)
        outbox.put(partial(0, "a"))
        outbox.put(partial(0, "a b"))
        assert drain(outbox)[:-1] == [partial(0, "a b")]

    def test_full_queue_drops_the_oldest_partial_for_a_final(self) -> None:
        """When full, a final evicts the oldest partial rather than being refused."""
        outbox = Outbox(2)
        outbox.put(partial(0, "a"))
        outbox.put(partial(1, "b"))
        assert outbox.put(final(0))
        assert drain(outbox)[:-1] == [partial(1, "b"), final(0)]
        assert outbox.dropped_partials == 1

    def test_full_of_finals_reports_a_client_that_does_not_read(self) -> None:
        """A queue full of finals refuses more and says so."""
        outbox = Outbox(2)
        assert outbox.put(final(0))
        assert outbox.put(final(1))
        assert not outbox.put(final(2))

    def test_close_comes_after_every_queued_message(self) -> None:
        """The close request is delivered last."""
        outbox = Outbox(4)
        outbox.put(final(0))
        items = drain(outbox)
        assert items == [final(0), CloseRequest(1000, "")]
