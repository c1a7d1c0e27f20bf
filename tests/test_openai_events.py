"""Wire helpers of the OpenAI engine: URL, client events built with SDK types, parsing."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from openai.types.realtime import InputAudioBufferSpeechStartedEvent
from pydantic import SecretStr

from realtime_stt.openai_engine.config import resolve_config
from realtime_stt.openai_engine.events import (
    append_event,
    clear_event,
    commit_event,
    parse_server_event,
    realtime_url,
    session_update,
)
from realtime_stt.openai_engine.tuning import Tuning
from realtime_stt.settings import Settings
from tests.openai_fake.validation import Problem, validate_client_frame


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("https://api.openai.com/v1", "wss://api.openai.com/v1/realtime?intent=transcription"),
        ("https://api.openai.com/v1/", "wss://api.openai.com/v1/realtime?intent=transcription"),
        ("http://127.0.0.1:9000/v1", "ws://127.0.0.1:9000/v1/realtime?intent=transcription"),
        ("wss://proxy.example/openai", "wss://proxy.example/openai/realtime?intent=transcription"),
    ],
)
def test_realtime_url_follows_the_base_url(base: str, url: str) -> None:
    """The base URL maps to ``…/realtime?intent=transcription`` with a WebSocket scheme."""
    assert realtime_url(base) == url


@pytest.mark.parametrize("base", ["ftp://host/v1", "api.openai.com/v1", "https:///v1"])
def test_realtime_url_rejects_unusable_base_urls(base: str) -> None:
    """A base URL without an http(s)/ws(s) scheme or a host is refused."""
    with pytest.raises(ValueError, match="OPENAI_BASE_URL"):
        realtime_url(base)


def _audio_input(settings: Settings) -> dict[str, Any]:
    frame = session_update(resolve_config(settings)[0], "sv")
    assert not isinstance(validate_client_frame(frame), Problem)
    audio_input: dict[str, Any] = json.loads(frame)["session"]["audio"]["input"]
    return audio_input


def test_session_update_omits_an_empty_prompt_and_keeps_noise_reduction() -> None:
    """Defaults give near-field noise reduction and no ``prompt`` key."""
    audio_input = _audio_input(Settings(_env_file=None, openai_api_key=SecretStr("k")))
    assert audio_input["noise_reduction"] == {"type": "near_field"}
    assert "prompt" not in audio_input["transcription"]


def test_session_update_sends_null_noise_reduction_and_the_prompt() -> None:
    """``none`` turns noise reduction off explicitly (null); a prompt is passed through."""
    settings = Settings(
        _env_file=None,
        openai_api_key=SecretStr("k"),
        openai_noise_reduction="none",
        openai_prompt="Stockholm, Göteborg",
    )
    audio_input = _audio_input(settings)
    assert audio_input["noise_reduction"] is None
    assert audio_input["transcription"]["prompt"] == "Stockholm, Göteborg"


def test_client_events_pass_the_strict_validator() -> None:
    """Every event the engine builds is a valid GA client event with no unknown fields."""
    settings = Settings(_env_file=None, openai_api_key=SecretStr("k"))
    frames = [
        session_update(resolve_config(settings)[0], "en"),
        append_event(b"\x01\x00" * 10),
        commit_event("c1"),
        clear_event("x1"),
    ]
    for frame in frames:
        assert not isinstance(validate_client_frame(frame), Problem), frame


def test_append_event_carries_base64_pcm() -> None:
    """The append's ``audio`` is the exact PCM bytes, base64-encoded."""
    pcm = bytes(range(256)) * 4
    event = json.loads(append_event(pcm))
    assert event["type"] == "input_audio_buffer.append"
    assert base64.b64decode(event["audio"]) == pcm


def test_parse_server_event_returns_the_sdk_type() -> None:
    """A known server frame parses to its SDK model."""
    frame = json.dumps(
        {
            "type": "input_audio_buffer.speech_started",
            "event_id": "e1",
            "item_id": "i1",
            "audio_start_ms": 120,
        }
    )
    event = parse_server_event(frame)
    assert isinstance(event, InputAudioBufferSpeechStartedEvent)
    assert event.audio_start_ms == 120


@pytest.mark.parametrize("frame", ['{"type": "future.event"}', "not json", '{"type": "error"}'])
def test_parse_server_event_drops_unknown_or_malformed_frames(frame: str) -> None:
    """Frames matching no GA server event (or not JSON) parse to ``None``."""
    assert parse_server_event(frame) is None


def test_tuning_backoff_doubles_up_to_the_cap() -> None:
    """The reconnect pause doubles per failure and stops at ``backoff_max_s``."""
    tuning = Tuning(backoff_initial_s=0.2, backoff_max_s=1.0)
    assert [tuning.backoff(n) for n in range(1, 6)] == [0.2, 0.4, 0.8, 1.0, 1.0]
