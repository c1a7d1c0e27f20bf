"""The scaffolding every engine session shares: its own task group, for as long as it is open.

A session's ``running()`` context runs its main task in a task group of its own and, on leaving
(normally or by cancellation), cancels whatever is still running there and then calls its
``release`` callback, which frees what the session holds (queues, timers, threads' lanes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc


@asynccontextmanager
async def running_task(
    main: Callable[[], Coroutine[Any, Any, None]], release: Callable[[], None]
) -> AsyncIterator[anyio.abc.TaskGroup]:
    """Run ``main`` in a new task group for the duration of the context (which gets the group,
    to start more tasks in); leaving cancels the group, then calls ``release``."""
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(main)
        try:
            yield tasks
        finally:
            tasks.cancel_scope.cancel()
            release()
