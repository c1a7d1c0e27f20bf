"""Engines found by name through entry points, and what an install without an engine's extra
does: the factory imports no implementation, the OpenAI engine no Whisper runtime, and an engine
whose modules are missing is refused with the command that installs them."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import SecretStr

import realtime_stt.local
from realtime_stt.engine.factory import build_engine, check_engine
from realtime_stt.engine.registry import (
    EngineSpec,
    EngineUnavailableError,
    engine_spec,
    registered,
)
from realtime_stt.settings import Settings

HEAVY = ("faster_whisper", "ctranslate2")


def _settings(engine: str, key: str | None = None) -> Settings:
    return Settings(
        _env_file=None,
        engine=engine,
        openai_api_key=None if key is None else SecretStr(key),
    )


def _loaded_after(code: str) -> list[str]:
    """The top-level names of the modules loaded in a fresh interpreter after ``code``, among the
    Whisper runtime and this project's engine implementations."""
    probe = textwrap.dedent(code) + textwrap.dedent(
        """
        import sys
        watched = ("faster_whisper", "ctranslate2", "realtime_stt.local.engine",
                   "realtime_stt.openai_engine")
        print(" ".join(sorted(m for m in sys.modules if m.startswith(watched))))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=60
    )
    return done.stdout.split()


def test_the_project_registers_its_two_engines() -> None:
    """The installed metadata names ``local`` and ``openai``, each an EngineSpec; the local one
    asks for the ``local`` extra, the OpenAI one needs nothing beyond the core install."""
    assert {"local", "openai"} <= set(registered())
    local, openai = engine_spec("local"), engine_spec("openai")
    assert (local.extra, set(HEAVY) <= set(local.requires)) == ("local", True)
    assert (openai.extra, openai.requires) == (None, ())


def test_the_factory_imports_no_engine_and_openai_loads_no_whisper() -> None:
    """Importing the factory loads neither engine (nor does the app load the local one);
    building the OpenAI engine through it loads the OpenAI package only (no faster-whisper, no
    CTranslate2, not the local engine); building the local one does not load the OpenAI
    engine."""
    assert _loaded_after("import realtime_stt.engine.factory") == []
    app = _loaded_after("import realtime_stt.app")
    assert not [m for m in app if m.split(".")[0] in HEAVY or m == "realtime_stt.local.engine"]
    openai = _loaded_after(
        """
        from pydantic import SecretStr
        from realtime_stt.engine.factory import build_engine
        from realtime_stt.settings import Settings
        build_engine(Settings(_env_file=None, engine="openai", openai_api_key=SecretStr("k")))
        """
    )
    assert "realtime_stt.openai_engine" in openai
    assert "realtime_stt.local.engine" not in openai
    assert not [m for m in openai if m.split(".")[0] in HEAVY]
    local = _loaded_after(
        """
        from realtime_stt.engine.factory import build_engine
        from realtime_stt.settings import Settings
        build_engine(Settings(_env_file=None, engine="local"))
        """
    )
    assert "realtime_stt.local.engine" in local
    assert not [m for m in local if m.startswith("realtime_stt.openai_engine")]


def test_engine_auto_picks_openai_with_a_key_and_local_without() -> None:
    """ENGINE=auto keeps its meaning through the registry; explicit names win over the key."""
    from realtime_stt.local.engine import LocalEngine
    from realtime_stt.openai_engine import OpenAIEngine

    assert isinstance(build_engine(_settings("auto", key="k")), OpenAIEngine)
    assert isinstance(build_engine(_settings("auto")), LocalEngine)
    assert isinstance(build_engine(_settings("local", key="k")), LocalEngine)
    assert isinstance(build_engine(_settings("openai", key="k")), OpenAIEngine)


@pytest.fixture
def without_local_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    """The local engine's registration as an install without the extra sees it: one of the
    modules it requires cannot be found."""
    spec = dataclasses.replace(realtime_stt.local.ENGINE, requires=("realtime_stt_absent_module",))
    monkeypatch.setattr(realtime_stt.local, "ENGINE", spec)


@pytest.mark.usefixtures("without_local_runtime")
def test_a_missing_extra_is_named_with_the_command_that_installs_it() -> None:
    """ENGINE=local without the extra: the error names the setting, the missing module and the
    pip line; ENGINE=auto without a key also says that a key selects the OpenAI engine; with a
    key, auto still serves OpenAI."""
    hint = "pip install 'realtime-stt[local]'"
    with pytest.raises(EngineUnavailableError) as local:
        check_engine(_settings("local"))
    assert str(local.value).startswith("ENGINE=local: the local engine needs")
    assert "realtime_stt_absent_module" in str(local.value)
    assert hint in str(local.value)
    with pytest.raises(EngineUnavailableError) as auto:
        build_engine(_settings("auto"))
    assert str(auto.value).startswith("ENGINE=auto serves the local engine when OPENAI_API_KEY")
    assert hint in str(auto.value)
    assert str(auto.value).endswith("or set OPENAI_API_KEY to use the OpenAI engine")
    assert check_engine(_settings("auto", key="k")) is engine_spec("openai")


@pytest.mark.usefixtures("without_local_runtime")
def test_the_service_refuses_to_start_naming_the_extra(tmp_path: Path) -> None:
    """``python -m realtime_stt`` with an engine it cannot run exits with status 2 and one line,
    before it binds a port (the child interpreter's local engine requires a missing module
    through a sitecustomize, as an install without the extra would)."""
    (tmp_path / "sitecustomize.py").write_text(
        "import dataclasses, realtime_stt.local as local\n"
        "local.ENGINE = dataclasses.replace(local.ENGINE, requires=('realtime_stt_absent',))\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "realtime_stt"],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(tmp_path), "ENGINE": "local"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: ENGINE=local: the local engine needs modules that are not installed "
        "(realtime_stt_absent): install them with `pip install 'realtime-stt[local]'`"
    ]


def _third_party(root: Path) -> None:
    """A distribution on ``root`` registering two engines the way a third engine package
    would: ``needy`` (requires a module nobody has) and ``broken`` (not an EngineSpec)."""
    (root / "third_engine.py").write_text(
        "from realtime_stt.engine.registry import EngineSpec\n"
        "def build(settings):\n"
        "    return 'built'\n"
        "NEEDY = EngineSpec(build=build, requires=('third_engine_runtime',), extra='third')\n"
        "OK = EngineSpec(build=build)\n"
        "BROKEN = object()\n"
    )
    info = root / "third_engine-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: third-engine\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[realtime_stt.engines]\n"
        "needy = third_engine:NEEDY\n"
        "fine = third_engine:OK\n"
        "broken = third_engine:BROKEN\n"
    )


def test_a_third_engine_registers_by_entry_point_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another distribution's entry points add engines with no change to the registry: one that
    is complete builds; one whose runtime is missing is refused with its extra; an entry point
    that is not an EngineSpec, and a name nobody registered, are refused by name."""
    _third_party(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert {"local", "openai", "needy", "fine", "broken"} <= set(registered())
    spec = engine_spec("fine")
    assert isinstance(spec, EngineSpec)
    assert spec.build(_settings("local")) == "built"  # type: ignore[comparison-overlap]
    with pytest.raises(EngineUnavailableError, match=r"third_engine_runtime.*\[third\]"):
        engine_spec("needy")
    with pytest.raises(EngineUnavailableError, match=r"third_engine:BROKEN.*not an EngineSpec"):
        engine_spec("broken")
    with pytest.raises(EngineUnavailableError, match=r"no engine named 'nope'.*registered: .*fine"):
        engine_spec("nope")
