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

    def test_a_final_removes_the_queued_partial_of_its_segment(self) -> None:
        """The final supersedes its segment's unsent partial; other segments keep theirs."""
        outbox = Outbox(4)
        outbox.put(partial(0, "a"))
        outbox.put(partial(1, "b"))
        outbox.put(final(0))
        assert drain(outbox)[:-1] == [partial(1, "b"), final(0)]
        assert outbox.dropped_partials == 1


class TestPartialPacing:
    def test_a_burst_of_partials_goes_out_as_its_newest_text(self) -> None:
        """After a partial is sent, the next ones wait out the interval; only the newest is sent."""

        async def run() -> tuple[list[object], float]:
            outbox = Outbox(8, partial_interval_s=0.2)
            outbox.put(partial(0, "a"))
            first = await outbox.get()
            loop = asyncio.get_running_loop()
            started = loop.time()
            for text in ("a b", "a b c", "a b c d"):
                outbox.put(partial(0, text))
            second = await outbox.get()
            return [first, second], loop.time() - started

        items, waited = asyncio.run(run())
        assert items == [partial(0, "a"), partial(0, "a b c d")]
        assert waited >= 0.15

    def test_a_final_is_never_held_back_and_drops_the_waiting_partial(self) -> None:
        """A final arriving during the wait goes out at once, without the stale partial."""

        async def run() -> list[object]:
            outbox = Outbox(8, partial_interval_s=30.0)
            outbox.put(partial(0, "a"))
            sent: list[object] = [await outbox.get()]
            outbox.put(partial(0, "a b"))
            getter = asyncio.create_task(outbox.get())
            for _ in range(10):  # turns of the loop: the getter runs until it waits
                await asyncio.sleep(0)
            assert not getter.done()  # the partial is being held
            outbox.put(final(0))
            sent.append(await asyncio.wait_for(getter, 1.0))
            return sent

        assert asyncio.run(run()) == [partial(0, "a"), final(0)]

    def test_other_messages_and_the_close_end_the_wait(self) -> None:
        """Held partials go out in order as soon as anything else is queued behind them."""

        async def run() -> list[object]:
            outbox = Outbox(8, partial_interval_s=30.0)
            outbox.put(partial(0, "a"))
            sent: list[object] = [await outbox.get()]
            outbox.put(partial(0, "a b"))
            outbox.put(wire.Error(code="x", message="y"))
            sent.append(await asyncio.wait_for(outbox.get(), 1.0))
            outbox.close(1000)
            sent += [await asyncio.wait_for(outbox.get(), 1.0) for _ in range(2)]
            return sent

        assert asyncio.run(run()) == [
            partial(0, "a"),
            partial(0, "a b"),
            wire.Error(code="x", message="y"),
            CloseRequest(1000, ""),
        ]
