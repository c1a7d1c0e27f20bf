"""Service configuration: one pydantic-settings model read from the environment and ``.env``.

Build it with :func:`get_settings` at the edge (the CLI entry point, each worker process, or the
uvicorn factory ``realtime_stt.app:app_from_env``) and pass it down: ``create_app(settings)``.
Nothing imports a module-level settings object. ``.env.example`` lists every field below with its
default. ``REDIS_URL`` unset (or empty) keeps the debug buffers in memory; ``INSTANCE_ID`` defaults
to ``<hostname>-<pid>``, so each process (each worker) gets its own.

"""

from __future__ import annotations

import os
import re
import socket
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from realtime_stt.redaction import redact_url

DEFAULT_ORIGINS = ("https://stefan-api-test-6.lovable.app",)
DEFAULT_ORIGIN_REGEX = (
    r"https://([a-z0-9-]+\.)*lovable\.app|http://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?"
)


def _split_comma(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _empty_is_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


CommaList = Annotated[list[str], NoDecode, BeforeValidator(_split_comma)]
OptionalUrl = Annotated[str | None, BeforeValidator(_empty_is_none)]
OptionalSecret = Annotated[SecretStr | None, BeforeValidator(_empty_is_none)]
OptionalInt = Annotated[int | None, BeforeValidator(_empty_is_none)]
"""A secret that an empty value (``API_TOKEN=`` as in ``.env.example``) leaves unset."""
OptionalDelay = Annotated[
    Literal["minimal", "low", "medium", "high", "xhigh"] | None, BeforeValidator(_empty_is_none)
]


def default_instance_id() -> str:
    """``<hostname>-<pid>``: unique per process, so each uvicorn worker gets its own."""
    return f"{socket.gethostname()}-{os.getpid()}"


def _empty_is_default_instance(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return default_instance_id()
    return value


InstanceId = Annotated[str, BeforeValidator(_empty_is_default_instance)]


def _debug_switch(value: Any) -> Any:
    """``DEBUG_ENDPOINTS`` as first released was a boolean: true is ``auto``, false is ``off``."""
    if isinstance(value, bool):
        return "auto" if value else "off"
    if isinstance(value, str) and value.strip().lower() in {"true", "1", "yes", "on"}:
        return "auto"
    if isinstance(value, str) and value.strip().lower() in {"false", "0", "no"}:
        return "off"
    return value


DebugEndpoints = Annotated[Literal["auto", "open", "token", "off"], BeforeValidator(_debug_switch)]


class Settings(BaseSettings):
    """Every knob of the service; field names are the environment variable names, upper-cased."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    # Engine choice
    engine: Literal["auto", "local", "openai"] = "auto"
    language: str = Field("sv", pattern=r"^[a-z]{2,3}$")

    # Network
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64)
    allowed_origins: CommaList = Field(default_factory=lambda: list(DEFAULT_ORIGINS))
    allowed_origin_regex: str = DEFAULT_ORIGIN_REGEX
    api_token: OptionalSecret = None

    # Limits
    max_frame_bytes: int = Field(1 << 20, ge=1024)
    max_sessions: OptionalInt = Field(None, ge=1)
    """Unset: the engine's ``default_max_sessions`` (8 for the local engine, 100 for OpenAI)."""
    max_sessions_per_client: OptionalInt = Field(None, ge=1)
    """Unset: half the session limit (at least 1), per client address."""
    idle_timeout_s: float = Field(60.0, ge=0)
    header_timeout_s: float = Field(10.0, gt=0)
    max_session_seconds: float = Field(4 * 3600.0, gt=0)
    outbox_size: int = Field(256, ge=8)

    # Debug ring buffers
    debug_endpoints: DebugEndpoints = "auto"
    debug_token: OptionalSecret = None
    debug_buffer_size: int = Field(500, ge=1)

    # Several instances: shared debug buffers in Redis, and this instance's name in them
    redis_url: OptionalUrl = Field(None, pattern=r"^(redis|rediss|unix)://.+")
    instance_id: InstanceId = Field(default_factory=default_instance_id, max_length=200)

    # Local engine
    local_model: str = "bundled"
    local_device: Literal["auto", "cpu", "cuda"] = "auto"
    local_compute_type: str = "auto"
    local_workers: int = Field(0, ge=0)
    local_cpu_threads: int = Field(0, ge=0)
    local_max_batch: int = Field(2, ge=1, le=16)
    local_beam_size: int = Field(5, ge=1, le=10)
    local_partial_interval_s: float = Field(0.6, gt=0)
    local_vad_threshold: float = Field(0.5, gt=0, lt=1)
    local_min_silence_ms: int = Field(400, ge=50)
    local_speculate_after_ms: int = Field(100, ge=0)
    local_speech_pad_ms: int = Field(200, ge=0)
    local_vad_sustained_ms: int = Field(256, ge=0)
    local_max_utterance_s: float = Field(20.0, ge=5, le=28)

    # OpenAI Realtime engine
    openai_api_key: OptionalSecret = None
    openai_base_url: str = "https://api.openai.com/v1"
    openai_realtime_model: str = Field("gpt-live-transcribe", min_length=1)
    openai_turn_detection: Literal["auto", "server_vad", "semantic_vad", "client"] = "auto"
    openai_prompt: str = ""
    openai_keywords: CommaList = Field(default_factory=list)
    openai_languages: CommaList = Field(default_factory=list)
    openai_transcription_delay: OptionalDelay = None
    openai_vad_threshold: float = Field(0.5, ge=0, le=1)
    openai_prefix_padding_ms: int = Field(300, ge=0)
    openai_silence_duration_ms: int = Field(500, ge=0)
    openai_commit_silence_ms: int = Field(400, ge=100, le=5000)
    openai_speech_pad_ms: int = Field(200, ge=0, le=1000)
    openai_max_utterance_s: float = Field(30.0, ge=5, le=600)
    openai_noise_reduction: Literal["near_field", "far_field", "none"] = "near_field"
    openai_retry_window_s: float = Field(30.0, ge=0, le=600)

    @field_validator("openai_keywords")
    @classmethod
    def _plain_keywords(cls, keywords: list[str]) -> list[str]:
        for keyword in keywords:
            if any(char in keyword for char in "<>\r\n"):
                msg = f"OPENAI_KEYWORDS: {keyword!r} holds <, > or a line break"
                raise ValueError(msg)
        return keywords

    @field_validator("openai_languages")
    @classmethod
    def _language_codes(cls, languages: list[str]) -> list[str]:
        for code in languages:
            if not re.fullmatch(r"[a-z]{2}", code):
                msg = f"OPENAI_LANGUAGES: {code!r} is not an ISO-639-1 code such as sv"
                raise ValueError(msg)
        return languages

    @model_validator(mode="after")
    def _openai_needs_a_key(self) -> Settings:
        if self.engine == "openai" and self.openai_api_key is None:
            msg = "ENGINE=openai needs OPENAI_API_KEY"
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _token_mode_needs_a_token(self) -> Settings:
        if self.debug_endpoints == "token" and self.debug_token is None:
            msg = "DEBUG_ENDPOINTS=token needs DEBUG_TOKEN"
            raise ValueError(msg)
        return self

    @property
    def resolved_engine(self) -> Literal["local", "openai"]:
        """The engine actually served: ``auto`` means OpenAI when a key is set, else local."""
        if self.engine == "auto":
            return "openai" if self.openai_api_key is not None else "local"
        return self.engine

    def public_view(self) -> dict[str, Any]:
        """The effective configuration for ``GET /config``; secrets show only if they are set."""
        view = self.model_dump(mode="json")
        for name in ("api_token", "debug_token", "openai_api_key"):
            view[name] = {"set": getattr(self, name) is not None}
        view["redis_url"] = None if self.redis_url is None else redact_url(self.redis_url)
        view["openai_base_url"] = redact_url(self.openai_base_url)
        view["resolved_engine"] = self.resolved_engine
        return view


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read the settings once from the environment and ``.env``."""
    return Settings()
