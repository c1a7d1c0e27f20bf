"""How an OpenAI session's driver ends: normally, with a fatal engine error, or by a bug.

Both kinds of session (upstream's turn detection, or our commits) run their driver through
:func:`outcome`, so they end the same way: the events it returns go out after the finals of every
open segment, and then the session's event stream ends.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from realtime_stt.engine.protocol import EngineError

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
        log.exception("OpenAI session failed")
        message = str(exc) or type(exc).__name__
        return [EngineError("engine_failure", message, fatal=True)]
    return []
