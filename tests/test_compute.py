"""The inference scheduler: finals before optional work, queued finals batched, cancellation free.

These run real worker threads with stand-in work (no model), so the order in which the
scheduler hands out workers is observed directly.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence

import pytest

from realtime_stt.local.compute import Compute


class Gate:
    """A thread-side barrier the test opens: work blocks on it until ``open``."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def wait(self) -> None:
        assert self._event.wait(10), "the test never opened the gate"

    def open(self) -> None:
        self._event.set()


class BatchLog:
    """A stand-in batch decode that records each batch it gets and returns its requests."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def __call__(self, requests: Sequence[int]) -> list[int]:
        self.batches.append(list(requests))
        return list(requests)


async def settle() -> None:
    """Let every task that can run, run until it waits (queued work reaches the scheduler):
    turns of the event loop, not time, since no step here waits for a thread."""
    for _ in range(10):
        await asyncio.sleep(0)


def run(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(body(), 20))


class TestCompute:
    def test_a_waiting_final_goes_before_waiting_partials(self) -> None:
        """With the only worker busy, a final queued after a partial still runs first."""
        order: list[str] = []

        async def body() -> None:
            compute = Compute(workers=1)
            gate = Gate()
            blocker = asyncio.create_task(compute.infer(gate.wait))
            await settle()
            partial = asyncio.create_task(compute.infer(lambda: order.append("partial")))
            await settle()

            def decode(requests: Sequence[str]) -> list[str]:
                order.extend(requests)
                return list(requests)

            final = asyncio.create_task(compute.batched("k", "final", decode))
            await settle()
            assert compute.finals_waiting == 1
            gate.open()
            await asyncio.gather(blocker, partial, final)

        run(body)
        assert order == ["final", "partial"]

    def test_queued_finals_of_one_key_share_a_decode(self) -> None:
        """Finals that queue while workers are busy leave in batches of ``max_batch`` per key,
        oldest first, and each caller gets its own result."""
        batches: list[list[str]] = []

        def decode(requests: Sequence[str]) -> list[str]:
            batches.append(list(requests))
            return [r.upper() for r in requests]

        async def body() -> list[str]:
            compute = Compute(workers=1, max_batch=2)
            gate = Gate()
            blocker = asyncio.create_task(compute.infer(gate.wait))
            await settle()
            names = [("a", "a1"), ("b", "b1"), ("a", "a2"), ("a", "a3")]
            finals = []
            for key, name in names:
                finals.append(asyncio.create_task(compute.batched(key, name, decode)))
                await settle()
            gate.open()
            await blocker
            results = await asyncio.gather(*finals)
            assert (compute.batches, compute.batched_finals) == (3, 4)
            return list(results)

        asyncio.run(asyncio.wait_for(body(), 20))
        assert batches == [["a1", "a2"], ["b1"], ["a3"]]

    def test_a_final_with_a_free_worker_starts_alone_at_once(self) -> None:
        """Batching never holds a final back: with workers free, each final starts by itself."""
        decode = BatchLog()

        async def body() -> None:
            compute = Compute(workers=2, max_batch=4)
            await asyncio.gather(*(compute.batched("k", n, decode) for n in (1, 2)))

        run(body)
        assert sorted(decode.batches) == [[1], [2]]

    def test_no_more_finals_waiting_than_workers_means_no_batch(self) -> None:
        """Two finals queued behind two busy workers are decoded one per worker, not together:
        a batch would serve the first one later, and one round clears them anyway."""
        decode = BatchLog()

        async def body() -> None:
            compute = Compute(workers=2, max_batch=2)
            gate = Gate()
            blockers = [asyncio.create_task(compute.infer(gate.wait)) for _ in range(2)]
            await settle()
            finals = [asyncio.create_task(compute.batched("k", n, decode)) for n in (1, 2)]
            await settle()
            assert compute.finals_waiting == 2
            gate.open()
            await asyncio.gather(*blockers, *finals)

        run(body)
        assert sorted(decode.batches) == [[1], [2]]

    def test_a_cancelled_waiting_final_costs_nothing(self) -> None:
        """A final cancelled while it waits for a worker leaves the queue and is never decoded."""
        decoded: list[str] = []

        def decode(requests: Sequence[str]) -> list[str]:
            decoded.extend(requests)
            return list(requests)

        async def body() -> None:
            compute = Compute(workers=1)
            gate = Gate()
            blocker = asyncio.create_task(compute.infer(gate.wait))
            await settle()
            stale = asyncio.create_task(compute.batched("k", "stale", decode))
            await settle()
            stale.cancel()
            await settle()
            assert compute.finals_waiting == 0
            gate.open()
            await blocker
            assert await compute.batched("k", "kept", decode) == "kept"
            assert compute.inference_in_use == 0

        run(body)
        assert decoded == ["kept"]

    def test_a_failing_decode_fails_every_final_of_its_batch(self) -> None:
        """An error in a batched decode reaches each waiting caller, and the worker is freed."""

        def decode(requests: Sequence[str]) -> list[str]:
            raise RuntimeError("decoder broke")

        async def body() -> None:
            compute = Compute(workers=1, max_batch=2)
            gate = Gate()
            blocker = asyncio.create_task(compute.infer(gate.wait))
            await settle()
            finals = [asyncio.create_task(compute.batched("k", n, decode)) for n in ("x", "y")]
            await settle()
            gate.open()
            await blocker
            for final in finals:
                with pytest.raises(RuntimeError, match="decoder broke"):
                    await final
            assert compute.inference_in_use == 0

        run(body)

    def test_partials_keep_off_the_reserved_worker_and_waiting_finals(self) -> None:
        """No spare worker while a final waits or when a partial would take the last free one."""

        async def body() -> None:
            compute = Compute(workers=2)
            assert compute.has_spare()
            gate = Gate()
            first = asyncio.create_task(compute.infer(gate.wait))
            await settle()
            assert not compute.has_spare()  # one worker stays free for finals
            second = asyncio.create_task(compute.infer(gate.wait))
            await settle()
            final = asyncio.create_task(compute.batched("k", 1, list))
            await settle()
            assert compute.finals_waiting == 1
            assert not compute.has_spare()
            gate.open()
            await asyncio.gather(first, second, final)
            assert compute.has_spare()

        run(body)
