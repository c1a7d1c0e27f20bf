"""Where our endpointer commits turns, by ``OPENAI_COMMIT_SILENCE_MS``, on real recordings.

``python -m bench.openai_commits [--pause 1.5] WAV...`` plays each 16-kHz mono WAV (one clause or
sentence each) followed by ``--pause`` seconds of silence through the client-commit
:class:`~realtime_stt.openai_engine.turns.TurnPlanner` with the real Silero VAD, for several
commit silences, and prints per value: the turns committed (one per file is ideal; more means a
clause was split at a pause inside it), the seconds of audio appended upstream against the
seconds received, and how much of the inserted pauses went upstream. The latency a value adds
to every final is the value itself. No network: this is the decision
logic alone. Without arguments it uses the project's espeak fixtures.
"""

from __future__ import annotations

import argparse
import wave
from pathlib import Path

import numpy as np
import soxr

from realtime_stt.local.vad import StreamingVad
from realtime_stt.openai_engine.turns import Commit, Send, TurnPlanner

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
SILENCES_MS = (200, 300, 400, 500, 600, 800)
CHUNK = 1600


def read(path: Path) -> np.ndarray:
    with wave.open(str(path)) as wav:
        if wav.getframerate() != 16_000 or wav.getnchannels() != 1:
            msg = f"{path}: need 16 kHz mono"
            raise SystemExit(msg)
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")


def run(
    audio: np.ndarray, silence_ms: int, gaps: list[tuple[int, int]]
) -> tuple[int, float, float]:
    """(turns committed, seconds sent upstream, seconds of the ``gaps`` sent) for ``audio`` at
    one commit silence; ``gaps`` are the inserted pauses, as 24-kHz sample ranges."""
    planner = TurnPlanner(
        threshold=0.5, commit_silence_ms=silence_ms, speech_pad_ms=200, max_utterance_s=30.0
    )
    vad = StreamingVad()
    resampler = soxr.ResampleStream(16_000, 24_000, 1, dtype="int16", quality="HQ")
    turns, sent, in_gaps = 0, 0, 0
    for start in range(0, audio.size, CHUNK):
        chunk = audio[start : start + CHUNK]
        pcm24 = resampler.resample_chunk(chunk, last=start + CHUNK >= audio.size)
        probs = vad.process(chunk.astype(np.float32) / 32768.0)
        decisions = planner.feed(pcm24.size, probs)
        decisions += planner.finish() if start + CHUNK >= audio.size else []
        turns += sum(isinstance(d, Commit) for d in decisions)
        for send in (d for d in decisions if isinstance(d, Send)):
            sent += send.stop - send.start
            in_gaps += sum(max(0, min(send.stop, b) - max(send.start, a)) for a, b in gaps)
    return turns, sent / 24_000, in_gaps / 24_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("wavs", nargs="*", type=Path)
    parser.add_argument("--pause", type=float, default=1.5, help="silence after each file (s)")
    args = parser.parse_args()
    paths = args.wavs or sorted(FIXTURES.glob("*.wav"))
    gap = np.zeros(int(args.pause * 16_000), dtype="<i2")
    parts = [part for path in paths for part in (read(path), gap)]
    audio = np.concatenate(parts)
    gaps, at = [], 0
    for part in parts:
        if part is gap:
            gaps.append((at * 3 // 2, (at + part.size) * 3 // 2))
        at += part.size
    received = audio.size / 16_000
    paused = len(gaps) * args.pause
    print(f"{len(paths)} files, {received:.1f} s received, pauses of {args.pause:g} s")
    print(
        "| commit silence | turns | split clauses | sent upstream | sent / received "
        "| inserted pauses sent |"
    )
    print("|---|---|---|---|---|---|")
    for silence_ms in SILENCES_MS:
        turns, sent, in_gaps = run(audio, silence_ms, gaps)
        row = f"| {silence_ms} ms | {turns} | {max(0, turns - len(paths))} | {sent:.1f} s |"
        print(f"{row} {sent / received:.2f} | {in_gaps:.1f} of {paused:.1f} s |")


if __name__ == "__main__":
    main()
