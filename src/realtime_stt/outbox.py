"""A bounded queue of messages for one client, with a written drop policy.

Policy, in order:
1. a new partial replaces a queued partial of the same segment (only the newest guess matters);
2. when the queue is full, the oldest queued partial is dropped to make room;
3. finals, errors and every other message are never dropped: if the queue is full of them the
   client is not reading, :meth:`Outbox.put` returns ``False`` and the caller closes the session.

A close request is queued behind everything already queued, so every final goes out first.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

from realtime_stt import wire

Message = wire.Ready | wire.SpeechStarted | wire.Partial | wire.Final | wire.Error


@dataclass(frozen=True, slots=True)
class CloseRequest:
    """The last item: close the socket with ``code`` and ``reason``."""

    code: int
    reason: str


class Outbox:
    """Bounded message queue between the session logic and the socket writer."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: deque[Message] = deque()
        self._close: CloseRequest | None = None
        self._changed = asyncio.Event()
        self.dropped_partials = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, message: Message) -> bool:
        """Queue ``message`` under the drop policy; ``False`` means the client is not reading."""
        if self._close is not None:
            return True
        if isinstance(message, wire.Partial):
            for index, queued in enumerate(self._items):
                if isinstance(queued, wire.Partial) and queued.segment_id == message.segment_id:
                    self._items[index] = message
                    self.dropped_partials += 1
                    return True
        if len(self._items) >= self._capacity and not self._drop_oldest_partial():
            if isinstance(message, wire.Partial):
                self.dropped_partials += 1
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
        """Wait for the next message, or the close request once the queue is empty."""
        while True:
            if self._items:
                return self._items.popleft()
            if self._close is not None:
                return self._close
            self._changed.clear()
            await self._changed.wait()

    def _drop_oldest_partial(self) -> bool:
        for index, queued in enumerate(self._items):
            if isinstance(queued, wire.Partial):
                del self._items[index]
                self.dropped_partials += 1
                return True
        return False
