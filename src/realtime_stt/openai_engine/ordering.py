"""Commit-order release of results that complete in any order (sans-I/O).

Upstream commits utterances in order but may complete their transcriptions out of order ("Ordering
between completion events from different speech turns is not guaranteed"). :class:`CommitOrder`
holds each completed value until every value committed before it has completed too.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class CommitOrder(Generic[K, V]):
    """Values keyed by commit; :meth:`pop_ready` yields them in commit order only.

    Contract: :meth:`commit` each key once, in the order upstream committed it (``previous`` places
    it right after a still-pending key, as ``input_audio_buffer.committed.previous_item_id`` says);
    :meth:`complete` each key once, before or after its commit; call :meth:`pop_ready` after either.
    """

    def __init__(self) -> None:
        self._pending: deque[K] = deque()
        self._done: dict[K, V] = {}

    def __len__(self) -> int:
        """Keys committed and not yet released."""
        return len(self._pending)

    def __contains__(self, key: object) -> bool:
        return key in self._pending

    def commit(self, key: K, previous: K | None = None) -> None:
        """Record that ``key`` was committed, after ``previous`` if that is still pending."""
        if key in self._pending:
            return
        if previous is not None and previous in self._pending:
            self._pending.insert(self._pending.index(previous) + 1, key)
        else:
            self._pending.append(key)

    def complete(self, key: K, value: V) -> None:
        """Record the result for ``key``; it is released once all earlier commits are complete."""
        self._done[key] = value

    def pop_ready(self) -> list[V]:
        """Remove and return the completed values at the head of the commit order."""
        ready: list[V] = []
        while self._pending and self._pending[0] in self._done:
            ready.append(self._done.pop(self._pending.popleft()))
        return ready
