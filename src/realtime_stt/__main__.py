"""``python -m realtime_stt``: read the settings, then serve the app with uvicorn.

An invalid setting stops start-up with one line naming the variable, and exit status 2.
"""

from __future__ import annotations

import logging
import sys

import uvicorn
from pydantic import ValidationError

from realtime_stt.settings import Settings, get_settings


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


def main() -> None:
    """Serve on ``HOST``:``PORT`` (127.0.0.1:8000 by default)."""
    settings = load_settings()
    from realtime_stt.app import create_app  # noqa: PLC0415 - settings errors first, fast

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        ws_max_size=settings.max_frame_bytes + 4096,
        proxy_headers=True,
        log_level="info",
    )


if __name__ == "__main__":
    main()
