"""``python -m realtime_stt``: read the settings, then serve the app with uvicorn.

An invalid setting, or an engine that cannot run in this install (``ENGINE=local`` without the
``local`` extra), stops start-up with one line naming it, and exit status 2. With
``WORKERS`` above 1, :mod:`realtime_stt.workers` runs that many server processes on one socket;
otherwise this process serves (:func:`realtime_stt.server.serve`). Either way, SIGTERM lets every
open session finish: its finals, then a 1001 close.
"""

from __future__ import annotations

import sys

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


def check_engine_or_exit(settings: Settings) -> None:
    """Exit with one line and status 2 when the engine the settings select cannot run here (not
    registered, or its extra is not installed)."""
    from realtime_stt.engine.factory import check_engine  # noqa: PLC0415 - after the settings
    from realtime_stt.engine.registry import EngineUnavailableError  # noqa: PLC0415

    try:
        check_engine(settings)
    except EngineUnavailableError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(2) from None


def main() -> None:
    """Serve on ``HOST``:``PORT`` (127.0.0.1:8000 by default) with ``WORKERS`` processes."""
    settings = load_settings()
    check_engine_or_exit(settings)
    if settings.workers > 1:
        from realtime_stt.workers import serve_workers  # noqa: PLC0415 - only when asked for

        raise SystemExit(serve_workers(settings))
    from realtime_stt.server import serve  # noqa: PLC0415 - settings errors first, fast

    serve(settings)


if __name__ == "__main__":
    main()
