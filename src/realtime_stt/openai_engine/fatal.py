"""How an OpenAI session's driver ends (normally, with a fatal engine error, or by a bug), and
when a lost upstream connection may be replaced.

Both kinds of session (upstream's turn detection, or our commits) run their driver through
:func:`outcome`, so they end the same way: the events it returns go out after the finals of every
open segment, and then the session's event stream ends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import anyio

from realtime_stt.engine.protocol import EngineError
from realtime_stt.openai_engine.connection import Upstream
from realtime_stt.openai_engine.tuning import RETRY_CLOSE_CODES, Tuning

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


async def drops_after_loss(lost: Upstream, *, expired: bool, drops: int, tuning: Tuning) -> int:
    """The count of drops in a row once connection ``lost`` is gone (after waiting, bounded, for
    its reader to finish); raises :class:`FatalError` when it must not be replaced: a close code
    that is not retried (unless upstream said ``session_expired``), or too many drops in a row.
    """
    with anyio.move_on_after(tuning.close_timeout_s):
        await lost.finished.wait()
    code = lost.close_code
    if not (expired or code is None or code in RETRY_CLOSE_CODES):
        message = f"OpenAI closed the connection (code {code})"
        raise FatalError(EngineError("upstream_closed", message, fatal=True))
    lived = time.monotonic() - lost.opened_at
    drops = drops + 1 if lived < tuning.stable_after_s else 1
    if drops > tuning.max_attempts:
        message = f"the upstream connection dropped {drops} times in a row"
        raise FatalError(EngineError("upstream_unavailable", message, fatal=True))
    log.warning("OpenAI connection %d lost (code %s); reconnecting", lost.gen, code)
    return drops
