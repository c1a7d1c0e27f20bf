"""The engines installed, by name: each registers an :class:`EngineSpec` as an entry point.

An engine package declares one entry point in the ``realtime_stt.engines`` group of its
distribution's metadata (this project's ``pyproject.toml`` declares ``local`` and ``openai``),
naming a module-level :class:`EngineSpec`. This module finds specs by name without importing
any engine that is not asked for, so the protocol package depends on no implementation, and a
third engine needs one line of ``pyproject.toml`` and no change here.

A spec names the modules it needs beyond the core install (``requires``) and the extra that
installs them; :func:`engine_spec` checks they can be found (without importing them) and
raises :class:`EngineUnavailableError`, with the ``pip install`` line, when they cannot. The spec's
``build`` imports the implementation only when it is called.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from realtime_stt.engine.protocol import TranscriptionEngine
    from realtime_stt.settings import Settings

GROUP = "realtime_stt.engines"
"""The entry-point group engines register in."""
DISTRIBUTION = "realtime-stt"
"""The name an extra is installed under (``pip install 'realtime-stt[EXTRA]'``)."""


class EngineUnavailableError(RuntimeError):
    """The engine asked for is not registered, or what it needs is not installed."""


@dataclass(frozen=True, slots=True)
class EngineSpec:
    """What an engine registers.

    Attributes:
        build: makes the engine (not started) from the settings; imports the implementation.
        requires: top-level modules the engine needs that the core install does not bring.
        extra: the extra of this distribution that installs ``requires``.
    """

    build: Callable[[Settings], TranscriptionEngine]
    requires: tuple[str, ...] = ()
    extra: str | None = None

    def missing(self) -> tuple[str, ...]:
        """The modules of ``requires`` that cannot be found (none is imported to tell)."""
        return tuple(name for name in self.requires if importlib.util.find_spec(name) is None)

    def install_hint(self) -> str:
        """The command that installs what :meth:`missing` lists."""
        if self.extra is None:
            return "pip install " + " ".join(self.missing())
        return f"pip install '{DISTRIBUTION}[{self.extra}]'"


def registered() -> dict[str, EntryPoint]:
    """The installed engines' entry points, by engine name (nothing is imported)."""
    return {point.name: point for point in entry_points(group=GROUP)}


def engine_spec(name: str) -> EngineSpec:
    """The spec registered as ``name``, once everything it requires is installed.

    Loading the entry point imports the module that holds the spec (an engine keeps that module
    light), never the implementation.

    Raises:
        EngineUnavailableError: no engine of that name is registered (the project's own engines are
            registered by installing it: ``pip install -e .``), or modules it needs are missing.
    """
    points = registered()
    if name not in points:
        known = ", ".join(sorted(points)) or "none"
        msg = (
            f"no engine named {name!r} is registered (registered: {known}); "
            f"is {DISTRIBUTION} installed (pip install -e .)?"
        )
        raise EngineUnavailableError(msg)
    spec = points[name].load()
    if not isinstance(spec, EngineSpec):
        msg = f"the entry point {points[name].value!r} of engine {name!r} is not an EngineSpec"
        raise EngineUnavailableError(msg)
    if missing := spec.missing():
        msg = (
            f"the {name} engine needs modules that are not installed ({', '.join(missing)}): "
            f"install them with `{spec.install_hint()}`"
        )
        raise EngineUnavailableError(msg)
    return spec
