"""The scaffolding every engine session shares: its task group, its event stream, how it ends.

A new engine's session subclasses :class:`BaseSession`, implements the audio methods of
``EngineSession`` and :meth:`BaseSession._drive`, and gets the rest:

* ``running()``: the context its engine's ``open_session`` enters. It runs ``_drive`` in a task
  group of the session's own (``self._tasks``, to start more tasks in) and, on leaving (normally
  or by cancellation), cancels whatever still runs there, closes the event stream and calls
  ``_release``.
* the event stream (``self._sink``, an :class:`~realtime_stt.engine.sink.EventSink`): the
  session emits into it, the service iterates the session.
* the end: when ``_drive`` returns, the stream ends; when it raises :class:`FatalError`, that
  error goes out last; any other exception is logged and becomes a fatal ``engine_failure``.
  ``_wind_up`` runs before the stream ends, cancelled or not (to close connections, to give
  open segments their finals before the error).
* ``wait_for_room``: it waits on ``self._room``, an event the session clears while its backlog
  is over its limit and sets again once there is room.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc

from realtime_stt.engine.protocol import EngineError, EngineEvent
from realtime_stt.engine.sink import EventSink

log = logging.getLogger(__name__)


class FatalError(Exception):
    """The session cannot go on; :attr:`error` (``fatal=True``) tells the client why."""

    def __init__(self, error: EngineError) -> None:
        super().__init__(error.message)
        self.error = error


async def outcome(drive: Callable[[], Awaitable[None]]) -> list[EngineError]:
    """Run ``drive`` to its end: ``[]`` when it returns, else the one error that ends the session
    (its :class:`FatalError`'s, or ``engine_failure`` for any other exception, logged)."""
    try:
        await drive()
    except FatalError as fatal:
        return [fatal.error]
    except Exception as exc:
        log.exception("engine session failed")
        message = str(exc) or type(exc).__name__
        return [EngineError("engine_failure", message, fatal=True)]
    return []


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


class BaseSession(ABC):
    """The shared part of an ``EngineSession`` (see the module docstring); run it inside
    :meth:`running`."""

    def __init__(self, *, sample_rate: int, event_buffer: int) -> None:
        """``sample_rate``: the engine's input rate (``self._sink.pushed`` counts in it);
        ``event_buffer``: events buffered for the consumer before partials are dropped."""
        self._sink = EventSink(event_buffer, sample_rate)
        self._room = asyncio.Event()
        self._room.set()
        self._tasks: anyio.abc.TaskGroup | None = None

    def __aiter__(self) -> AsyncIterator[EngineEvent]:
        return self._sink.__aiter__()

    async def wait_for_room(self) -> None:
        """Return once the session's backlog is under its limit (``self._room`` is set)."""
        await self._room.wait()

    @property
    def has_room(self) -> bool:
        """Whether the backlog is under its limit now (``self._room`` is set)."""
        return self._room.is_set()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the session's tasks for the duration of the context; leaving it cancels them."""

        def release() -> None:
            self._sink.close()
            self._release()

        async with running_task(self._main, release) as tasks:
            self._tasks = tasks
            yield

    @property
    def _group(self) -> anyio.abc.TaskGroup:
        """The session's task group; raises ``RuntimeError`` outside :meth:`running`."""
        if self._tasks is None:
            msg = "the session is not running"
            raise RuntimeError(msg)
        return self._tasks

    async def _main(self) -> None:
        errors: list[EngineError] = []
        try:
            errors = await outcome(self._drive)
        finally:
            try:
                await self._wind_up(errors)
            finally:
                self._sink.end()

    @abstractmethod
    async def _drive(self) -> None:
        """The session's work, until its input has ended and every event is out; raise
        :class:`FatalError` to end the session with that error."""

    async def _wind_up(self, errors: list[EngineError]) -> None:
        """Runs once ``_drive`` is over (or cancelled), before the stream ends; ``errors`` is
        the fatal error that ended it, if any. By default, emits them."""
        await self._sink.emit_all(errors)

    def _release(self) -> None:  # noqa: B027 - an optional hook
        """Free what the session holds (timers, threads' lanes); called on leaving
        :meth:`running`. By default, nothing."""
