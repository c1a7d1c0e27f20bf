"""Natural English speech with trustworthy transcripts, fetched from Debian packages at run time.

Two sources, both downloaded with ``apt-get download`` (no root needed) and unpacked with
``dpkg -x`` into a cache directory (``$BENCH_CORPUS_DIR``, else ``~/.cache/realtime-stt-corpus``):

- ``pocketsphinx-testdata``: five LibriVox clips of *Sense and Sensibility* (16 kHz, public-domain
  reading; BSD-2 packaging) with their ``transcription`` file;
- ``asterisk-core-sounds-en-wav``: Allison Smith's telephone prompts (8 kHz; CC-BY-SA-3.0), with
  their texts from ``asterisk-core-sounds-en``. The text is the script the voice read, so a few
  prompts differ slightly from the recording; both the streamed and the one-shot pass are scored
  against it, so such a difference costs both the same.

:func:`load_corpus` returns :class:`Item` s at 16 kHz (the prompts resampled with soxr, as the
service resamples a client's 8-kHz audio).
"""

from __future__ import annotations

import gzip
import os
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soxr

RATE = 16_000
PACKAGES = ("pocketsphinx-testdata", "asterisk-core-sounds-en-wav", "asterisk-core-sounds-en")
LIBRIVOX = Path("usr/share/pocketsphinx/test/data/librivox")
PROMPTS = Path("usr/share/asterisk/sounds/en_US_f_Allison")
PROMPT_TEXTS = Path("usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")


@dataclass(frozen=True, slots=True)
class Item:
    """One recording: its name, 16-kHz PCM16 samples and the words said."""

    name: str
    audio: npt.NDArray[np.int16]
    text: str


def cache_dir() -> Path:
    """Where the packages are downloaded and unpacked."""
    configured = os.environ.get("BENCH_CORPUS_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "realtime-stt-corpus"


def fetch(root: Path | None = None) -> Path:
    """Download and unpack the packages once; returns the unpacked tree (idempotent)."""
    root = root or cache_dir()
    tree = root / "tree"
    if (tree / PROMPT_TEXTS).is_file() and (tree / LIBRIVOX).is_dir():
        return tree
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", *PACKAGES], cwd=root, check=True)
    for deb in sorted(root.glob("*.deb")):
        subprocess.run(["dpkg", "-x", str(deb), str(tree)], check=True)
    return tree


def read_wav(path: Path) -> npt.NDArray[np.int16]:
    """Mono PCM16 samples of ``path`` at 16 kHz (resampled when recorded at another rate)."""
    with wave.open(str(path)) as wav:
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    if rate == RATE:
        return samples.astype(np.int16)
    return np.asarray(soxr.resample(samples, rate, RATE), dtype=np.int16)


def librivox(tree: Path) -> list[Item]:
    """The five LibriVox clips, with the ``<s> ... </s> (id)`` transcription lines parsed."""
    items = []
    for line in (tree / LIBRIVOX / "transcription").read_text().splitlines():
        words, _, name = line.rpartition("(")
        text = words.replace("<s>", "").replace("</s>", "").split()
        name = name.rstrip(")").strip()
        items.append(Item(name, read_wav(tree / LIBRIVOX / f"{name}.wav"), " ".join(text)))
    return items


def telephone_prompts(tree: Path, min_words: int = 8) -> list[Item]:
    """The telephone prompts whose script has at least ``min_words`` words, in script order
    (bracketed descriptions of tones and prompts without a recording are skipped)."""
    items = []
    for line in gzip.decompress((tree / PROMPT_TEXTS).read_bytes()).decode().splitlines():
        key, sep, text = line.partition(":")
        text = text.strip()
        if not sep or line.startswith(";") or text.startswith("[") or "[" in text:
            continue
        path = tree / PROMPTS / f"{key.strip()}.wav"
        if path.is_file() and len(text.split()) >= min_words:
            # the voice reads the keys' names, which the normaliser would drop as symbols
            said = text.replace("#", " pound ").replace("*", " star ")
            items.append(Item(key.strip(), read_wav(path), " ".join(said.split())))
    return items


def load_corpus(min_words: int = 8) -> list[Item]:
    """The LibriVox clips, then the telephone prompts (see :func:`telephone_prompts`)."""
    tree = fetch()
    return librivox(tree) + telephone_prompts(tree, min_words)
