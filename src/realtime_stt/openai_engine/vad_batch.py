"""Silero VAD scored for many streams in one model call (the model the local engine uses).

faster-whisper's Silero model runs the frames of its input as one sequence: its LSTM reads them
in order, carrying one state. :func:`batched_model` loads the same model with its graph
rewritten (:mod:`.vad_graph`) so that each row of a call is one step of its own stream, with its
own state, and so that its convolutions run as one matrix product for the whole batch. The
weights are untouched, and the start-up self-check (:func:`_self_check`) confirms that a batch
scores each stream as the original model scores it alone (to 1e-5); if no rewrite passes it,
:class:`BatchVad` falls back to one original-model call per stream.

Cost on a 2-core machine, per 32-ms frame: 0.16 ms when each stream's 100-ms chunk (3 frames) is
a call of its own; 0.10-0.11 ms batched (the per-call overhead paid once per step for all
streams); 0.06-0.07 ms batched with the convolutions as products.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from realtime_stt.local.vad import FRAME, StreamingVad, model_path
from realtime_stt.openai_engine.vad_graph import convolutions_as_products, streams_on_batch_axis

log = logging.getLogger(__name__)
_CONTEXT = 64
_HIDDEN = 128
GATE_RMS = 10 ** (-50 / 20)
"""Frames quieter than -50 dBFS (RMS) are silence without running the model."""
Floats = npt.NDArray[np.float32]
_NO_PROBS = np.zeros(0, dtype=np.float32)


@lru_cache(maxsize=1)
def batched_model() -> Any:
    """An ONNX session of the Silero model rewritten for batches (:mod:`.vad_graph`), or
    ``None`` when the graph could not be changed or no rewrite matches the original model.

    The faster rewrite (streams on the batch axis, convolutions as products) is tried first; if
    it cannot be made or fails the self-check, the batch-axis rewrite alone."""
    try:
        import onnx  # noqa: PLC0415 - only needed to build the session once

        model = onnx.load(str(model_path()))
        if not streams_on_batch_axis(model):
            log.warning("unexpected Silero graph: scoring streams one by one")
            return None
        graphs = [model.SerializeToString()]
        try:
            convolutions_as_products(model)
            graphs.insert(0, model.SerializeToString())
        except Exception:
            log.warning("could not rewrite Silero's convolutions: using them as they are")
        for graph in graphs:
            session = _session(graph)
            if _self_check(session):
                return session
    except Exception:
        log.warning("could not build the batched Silero model: scoring streams one by one")
    return None


def _session(graph: bytes) -> Any:
    import onnxruntime  # noqa: PLC0415

    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


def _self_check(session: Any) -> bool:
    """Two streams of 12 frames scored in batch must equal each scored alone."""
    rng = np.random.default_rng(0)
    audio = [rng.normal(0, 0.1, 12 * FRAME).astype(np.float32) for _ in range(2)]
    alone = [StreamingVad().process(a) for a in audio]
    states = [LaneVad(), LaneVad()]
    together = BatchVad(session).score(list(zip(states, audio, strict=True)))
    ok = all(np.allclose(a, b, atol=1e-5) for a, b in zip(alone, together, strict=True))
    if not ok:
        log.warning("the batched Silero model disagrees with the original: not used")
    return ok


@dataclass
class LaneVad:
    """One stream's VAD state: LSTM state, the last 64 samples, and a partial frame."""

    h: Floats = field(default_factory=lambda: np.zeros(_HIDDEN, dtype=np.float32))
    c: Floats = field(default_factory=lambda: np.zeros(_HIDDEN, dtype=np.float32))
    context: Floats = field(default_factory=lambda: np.zeros(_CONTEXT, dtype=np.float32))
    leftover: Floats = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    single: StreamingVad | None = None
    """Used instead when there is no batched model."""


class BatchVad:
    """Scores the new audio of many streams together (``session``: from :func:`batched_model`,
    or ``None`` to score each stream with its own :class:`StreamingVad`).

    A frame whose RMS is under ``gate`` (full scale 1.0; the default :data:`GATE_RMS` is
    -50 dBFS, far below speech into a microphone) is silence: it gets probability 0 without
    running the model, and its stream's LSTM state is left as it was. In a conversation, the
    pauses and the gaps between words are such frames (about 28 % of the benchmark's audio).
    ``gate=0`` scores every frame.
    """

    def __init__(self, session: Any, gate: float = 0.0) -> None:
        self._session = session
        self._gate = gate

    def score(self, work: list[tuple[LaneVad, Floats]]) -> list[Floats]:
        """Speech probabilities of the whole frames each stream's audio completes, in order.

        The streams' states are gathered into arrays once per call and written back once at its
        end; each 32-ms step in between is array operations and one model call, whatever the
        number of streams (this runs on the scoring thread, and Python holds the GIL)."""
        if self._session is None:
            return [self._alone(lane, audio) for lane, audio in work]
        whole: list[Floats] = []
        for lane, audio in work:
            data = np.concatenate([lane.leftover, audio]) if lane.leftover.size else audio
            size = data.size - data.size % FRAME
            lane.leftover = data[size:].copy()
            whole.append(data[:size])
        counts = [data.size // FRAME for data in whole]
        steps = max(counts, default=0)
        if steps == 0:
            return [_NO_PROBS] * len(work)
        frames = np.zeros((len(work), steps, FRAME), dtype=np.float32)
        for i, data in enumerate(whole):
            frames[i, : counts[i]] = data.reshape(-1, FRAME)
        present = np.arange(steps)[None, :] < np.asarray(counts)[:, None]
        loud = present & (np.sqrt(np.mean(frames * frames, axis=2)) >= self._gate)
        h = np.stack([lane.h for lane, _ in work])
        c = np.stack([lane.c for lane, _ in work])
        context = np.stack([lane.context for lane, _ in work])
        probs = np.zeros((len(work), steps), dtype=np.float32)
        for step in range(steps):
            current = frames[:, step]
            rows = np.flatnonzero(loud[:, step])
            if rows.size:
                batch = np.concatenate([context[rows], current[rows]], axis=1)
                out, hn, cn = self._session.run(
                    None, {"input": batch, "h": h[rows][None], "c": c[rows][None]}
                )
                probs[rows, step] = np.asarray(out, dtype=np.float32).reshape(-1)
                h[rows], c[rows] = hn[0], cn[0]
            # every present frame, scored or silent, is the next one's context
            moved = np.flatnonzero(present[:, step])
            context[moved] = current[moved, -_CONTEXT:]
        for i, (lane, _) in enumerate(work):
            lane.h, lane.c, lane.context = h[i], c[i], context[i]
        return [probs[i, :count] for i, count in enumerate(counts)]

    @staticmethod
    def _alone(lane: LaneVad, audio: Floats) -> Floats:
        if lane.single is None:
            lane.single = StreamingVad()
        return lane.single.process(audio)
