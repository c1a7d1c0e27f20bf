"""The session driver's wake-up: work arriving, or a deadline passing, whichever comes first.

An asyncio event plus one kept timer, rather than an anyio event and a cancel scope per wait:
the driver waits once per pushed chunk, and creating those was 5 % of the proxy's CPU. The timer
is kept while it is due no later than the next deadline (waking early is harmless: the driver
looks and waits again), so it is not re-armed for every chunk; re-arming it each time was 3 %.
"""

from __future__ import annotations

import asyncio


class Alarm:
    """Call :meth:`ring` when there is work; the driver calls :meth:`reset` before it looks and
    :meth:`wait` when it has nothing to do."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    def ring(self) -> None:
        """Wake the driver (now, or as soon as it waits)."""
        self._event.set()

    def reset(self) -> None:
        """Forget earlier rings: the driver is about to look at its state."""
        self._event.clear()

    async def wait(self, deadline: float | None = None, now: float = 0.0) -> None:
        """Wait for a ring, or until ``deadline`` (a ``time.monotonic()`` time; ``now`` is the
        current one) if given."""
        if deadline is not None:
            self._arm(deadline, now)
        await self._event.wait()

    def cancel(self) -> None:
        """Drop the timer (the session is over)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, deadline: float, now: float) -> None:
        if self._timer is not None:
            if self._timer_at <= deadline:
                return
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = asyncio.get_running_loop().call_later(max(0.0, deadline - now), self._fired)

    def _fired(self) -> None:
        self._timer = None
        self._event.set()
