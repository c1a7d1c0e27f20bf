"""The lock files at the repository root hold what ``pyproject.toml`` asks for, at versions it
allows, each with its hashes; the slim lock holds nothing of the ``local`` extra; the three agree
on every version; and this environment is the one the dev lock describes."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCKS = {
    "requirements.txt": (),
    "requirements-local.txt": ("local",),
    "requirements-dev.txt": ("local", "dev"),
}
"""Each lock file and the extras it holds besides the core dependencies."""
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def pins(name: str) -> dict[str, str]:
    """``{canonical name: version}`` of a lock file; fails on a pin without a hash."""
    found: dict[str, str] = {}
    blocks = re.split(r"\n(?=\S)", (ROOT / name).read_text())
    for block in blocks:
        match = _PIN.match(block)
        if match is None:
            assert block.startswith("#"), f"{name}: not a pin: {block[:60]!r}"
            continue
        assert "--hash=sha256:" in block, f"{name}: {match[1]} has no hash"
        found[canonicalize_name(match[1])] = match[2]
    return found


def asked_for(extras: tuple[str, ...]) -> list[Requirement]:
    """The requirements of ``pyproject.toml`` for the core install plus ``extras`` (those whose
    markers hold here)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    requirements = [Requirement(line) for line in lines]
    return [r for r in requirements if r.marker is None or r.marker.evaluate()]


@pytest.mark.parametrize(("lock", "extras"), LOCKS.items())
def test_each_lock_pins_every_requirement_at_an_allowed_version(
    lock: str, extras: tuple[str, ...]
) -> None:
    """A requirement added to or narrowed in pyproject.toml without `make lock` fails here."""
    pinned = pins(lock)
    for requirement in asked_for(extras):
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{lock} lacks {requirement}: run `make lock`"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"{lock} pins {name}=={pinned[name]}, outside {requirement}: run `make lock`"
        )


def test_the_slim_lock_holds_no_local_engine_and_the_locks_agree() -> None:
    """requirements.txt holds none of the `local` extra's packages, requirements-local.txt none
    of the dev tools; each lock is contained in the next, at the same versions."""
    slim, local, dev = (pins(name) for name in LOCKS)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    local_extra = {
        canonicalize_name(Requirement(line).name)
        for line in project["optional-dependencies"]["local"]
    }
    assert local_extra >= {"faster-whisper", "ctranslate2"}
    assert not local_extra & set(slim)
    assert local_extra <= set(local)
    assert not {"pytest", "mypy", "ruff", "pip-tools"} & set(local)
    assert slim.items() <= local.items()
    assert local.items() <= dev.items()


def test_this_environment_is_the_dev_lock() -> None:
    """Every package of requirements-dev.txt is installed here at its pinned version, so the suite
    runs against what `make install` installs (a hand-upgraded package fails here)."""
    different = {}
    for name, version in pins("requirements-dev.txt").items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "missing"
        if installed != version:
            different[name] = (version, installed)
    assert different == {}, "locked (pinned, installed): run `make install`"
