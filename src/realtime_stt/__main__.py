"""``python -m realtime_stt``: read the settings, then serve the app with uvicorn.

An invalid setting stops start-up with one line naming the variable, and exit status 2.

On the first SIGTERM or SIGINT the server stops taking sessions' audio: every open session gets
its remaining finals and a 1001 close (within ``SHUTDOWN_GRACE_S``), then uvicorn shuts down as
usual. A second signal stops at once.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from types import FrameType
from typing import Any

import uvicorn
from pydantic import ValidationError

from realtime_stt.settings import Settings, get_settings
from realtime_stt.ws_connection import LiveConnections


def describe_invalid(exc: ValidationError) -> str:
    """One line per invalid variable, naming it the way it is set (upper-case)."""
    lines = []
    for error in exc.errors():
        name = "_".join(str(part) for part in error["loc"]).upper() or "settings"
        lines.append(f"invalid configuration: {name}: {error['msg']}")
    return "\n".join(lines)


def load_settings() -> Settings:
    """Build the settings or exit with a clear message."""
    try:
        return get_settings()
    except ValidationError as exc:
        sys.stderr.write(describe_invalid(exc) + "\n")
        raise SystemExit(2) from None


SHUTDOWN_GRACE_S = 15.0


class DrainingServer(uvicorn.Server):
    """A uvicorn server that lets open sessions finish before it stops."""

    def __init__(self, config: uvicorn.Config, live: LiveConnections) -> None:
        super().__init__(config)
        self._live = live
        self._loop: asyncio.AbstractEventLoop | None = None
        self._draining = False

    async def serve(self, sockets: list[Any] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._draining or self._loop is None or not len(self._live):
            super().handle_exit(sig, frame)
            return
        self._draining = True
        loop = self._loop

        def start_drain() -> None:
            task = loop.create_task(self._drain_then_exit(sig, frame))
            self._drain_task = task

        loop.call_soon_threadsafe(start_drain)

    async def _drain_then_exit(self, sig: int, frame: FrameType | None) -> None:
        logging.getLogger(__name__).info("draining %d open sessions", len(self._live))
        await self._live.drain(SHUTDOWN_GRACE_S)
        super().handle_exit(sig, frame)


def main() -> None:
    """Serve on ``HOST``:``PORT`` (127.0.0.1:8000 by default)."""
    settings = load_settings()
    from realtime_stt.app import create_app  # noqa: PLC0415 - settings errors first, fast

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        ws_max_size=settings.max_frame_bytes + 4096,
        proxy_headers=True,
        log_level="info",
    )
    DrainingServer(config, app.state.live).run()


if __name__ == "__main__":
    main()
