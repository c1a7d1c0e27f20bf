"""A bounded queue of messages for one client, with a written drop policy.

Policy, in order:
1. a new partial replaces a queued partial of the same segment (only the newest guess matters),
   and a final removes the queued partial of its segment (the final supersedes it);
2. when the queue is full, the oldest queued partial is dropped to make room;
3. finals, errors and every other message are never dropped: if the queue is full of them the
   client is not reading, :meth:`Outbox.put` returns ``False`` and the caller closes the session.

Pacing: partials go out at most once every :data:`PARTIAL_INTERVAL_S`. While only partials are
queued and the last one went out less than that ago, :meth:`Outbox.get` waits, so a burst of
partials (OpenAI sends a word's delta at a time, often all at once just before the final) reaches
the client as its newest text, or not at all when the final follows within the interval. Any
other message, and the close, ends the wait at once: nothing but partials is ever held back.

A close request is queued behind everything already queued, so every final goes out first.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from realtime_stt import wire

Message = wire.Ready | wire.SpeechStarted | wire.Partial | wire.Final | wire.Error
PARTIAL_INTERVAL_S = 0.1
"""The shortest time between two partials sent to one client (ten updates a second is more than
a person reads; each message costs a socket write)."""


@dataclass(frozen=True, slots=True)
class CloseRequest:
    """The last item: close the socket with ``code`` and ``reason``."""

    code: int
    reason: str


class Outbox:
    """Bounded message queue between the session logic and the socket writer."""

    def __init__(
        self,
        capacity: int,
        partial_interval_s: float = PARTIAL_INTERVAL_S,
        *,
        on_partial_dropped: Callable[[], None] | None = None,
    ) -> None:
        """``on_partial_dropped`` is called once for every partial the policy drops."""
        self._capacity = capacity
        self._on_partial_dropped = on_partial_dropped
        self._partial_interval_s = partial_interval_s
        self._items: deque[Message] = deque()
        self._close: CloseRequest | None = None
        self._changed = asyncio.Event()
        self._next_partial_at = 0.0
        self.dropped_partials = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, message: Message) -> bool:
        """Queue ``message`` under the drop policy; ``False`` means the client is not reading."""
        if self._close is not None:
            return True
        if isinstance(message, wire.Partial | wire.Final):
            for index, queued in enumerate(self._items):
                if isinstance(queued, wire.Partial) and queued.segment_id == message.segment_id:
                    self._dropped_partial()
                    if isinstance(message, wire.Partial):
                        self._items[index] = message
                        return True
                    del self._items[index]
                    break
        if len(self._items) >= self._capacity and not self._drop_oldest_partial():
            if isinstance(message, wire.Partial):
                self._dropped_partial()
                return True
            return False
        self._items.append(message)
        self._changed.set()
        return True

    def close(self, code: int, reason: str = "") -> None:
        """Ask the writer to close after the queued messages; the first request wins."""
        if self._close is None:
            self._close = CloseRequest(code, reason)
            self._changed.set()

    async def get(self) -> Message | CloseRequest:
        """Wait for the next message (partials paced, see the module docstring), or the close
        request once the queue is empty."""
        loop = asyncio.get_running_loop()
        while True:
            hold = self._hold_partials_for(loop.time())
            if self._items and hold <= 0:
                message = self._items.popleft()
                if isinstance(message, wire.Partial):
                    self._next_partial_at = loop.time() + self._partial_interval_s
                return message
            if not self._items and self._close is not None:
                return self._close
            self._changed.clear()
            timer = loop.call_later(hold, self._changed.set) if self._items else None
            try:
                await self._changed.wait()
            finally:
                if timer is not None:
                    timer.cancel()

    def _hold_partials_for(self, now: float) -> float:
        """Seconds the queue must wait: only while it holds partials and nothing else."""
        if self._close is not None or now >= self._next_partial_at:
            return 0.0
        if any(not isinstance(item, wire.Partial) for item in self._items):
            return 0.0
        return self._next_partial_at - now

    def _dropped_partial(self) -> None:
        self.dropped_partials += 1
        if self._on_partial_dropped is not None:
            self._on_partial_dropped()

    def _drop_oldest_partial(self) -> bool:
        for index, queued in enumerate(self._items):
            if isinstance(queued, wire.Partial):
                del self._items[index]
                self._dropped_partial()
                return True
        return False
