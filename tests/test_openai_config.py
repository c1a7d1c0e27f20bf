"""The OpenAI engine's model table and configuration: what each model is sent, and what is refused
at start-up instead of by upstream later."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from realtime_stt.openai_engine import OpenAIEngine
from realtime_stt.openai_engine.config import ConfigError, resolve_config
from realtime_stt.openai_engine.events import session_update
from realtime_stt.openai_engine.models import MODELS, model_spec
from realtime_stt.settings import Settings
from tests.openai_fake.validation import Problem, validate_client_frame


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _settings(**fields: Any) -> Settings:
    return Settings(_env_file=None, openai_api_key=SecretStr("k"), **fields)


def _transcription_input(**fields: Any) -> dict[str, Any]:
    config, _ = resolve_config(_settings(**fields))
    frame = session_update(config, "sv")
    assert not isinstance(validate_client_frame(frame), Problem)
    audio_input: dict[str, Any] = json.loads(frame)["session"]["audio"]["input"]
    return audio_input


def test_the_default_model_is_the_streaming_gpt_live_transcribe_with_client_commits() -> None:
    """By default the session asks for gpt-live-transcribe with turn detection explicitly off."""
    audio_input = _transcription_input()
    assert audio_input["transcription"] == {"model": "gpt-live-transcribe", "language": "sv"}
    assert "turn_detection" in audio_input
    assert audio_input["turn_detection"] is None


@pytest.mark.parametrize(
    ("model", "detection"),
    [
        ("gpt-live-transcribe", None),
        ("gpt-realtime-whisper", None),
        ("gpt-transcribe", "server_vad"),
        ("gpt-4o-mini-transcribe", "server_vad"),
        ("some-future-model", "server_vad"),
    ],
)
def test_auto_turn_detection_is_ours_for_streaming_models_and_upstreams_for_others(
    model: str, detection: str | None
) -> None:
    """``auto``: null (our commits) for streaming models, server VAD for turn-based and unknown."""
    sent = _transcription_input(openai_realtime_model=model)["turn_detection"]
    assert (sent if sent is None else sent["type"]) == detection


def test_client_turn_detection_works_with_a_turn_based_model() -> None:
    """``client`` sends null turn detection to gpt-transcribe too (we commit its turns)."""
    audio_input = _transcription_input(
        openai_realtime_model="gpt-transcribe", openai_turn_detection="client"
    )
    assert audio_input["turn_detection"] is None


def test_semantic_vad_is_sent_for_a_turn_based_model() -> None:
    """``semantic_vad`` is passed through for turn-based models."""
    audio_input = _transcription_input(
        openai_realtime_model="gpt-transcribe", openai_turn_detection="semantic_vad"
    )
    assert audio_input["turn_detection"] == {"type": "semantic_vad", "eagerness": "auto"}


@pytest.mark.parametrize("mode", ["server_vad", "semantic_vad"])
@pytest.mark.parametrize("model", ["gpt-live-transcribe", "gpt-realtime-whisper"])
def test_upstream_turn_detection_with_a_streaming_model_is_refused_at_start(
    model: str, mode: str
) -> None:
    """A streaming model with server or semantic VAD is a start-up error naming both."""
    with pytest.raises(ConfigError, match=rf"OPENAI_TURN_DETECTION={mode}.*{model}"):
        resolve_config(_settings(openai_realtime_model=model, openai_turn_detection=mode))


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        ("gpt-realtime-whisper", "openai_prompt", "Stockholm"),
        ("gpt-realtime-whisper", "openai_keywords", "Göteborg"),
        ("gpt-realtime-whisper", "openai_languages", "sv,en"),
        ("gpt-transcribe", "openai_transcription_delay", "low"),
        ("gpt-4o-transcribe", "openai_keywords", "Malmö"),
        ("gpt-4o-transcribe-diarize", "openai_prompt", "Malmö"),
        ("some-future-model", "openai_keywords", "Malmö"),
    ],
)
def test_a_setting_the_model_does_not_support_is_refused_at_start(
    model: str, field: str, value: str
) -> None:
    """The error names the setting and the model, before any session is opened."""
    setting = field.upper()
    with pytest.raises(ConfigError, match=rf"{setting} not supported by {model}"):
        resolve_config(_settings(openai_realtime_model=model, **{field: value}))


def test_supported_fields_are_sent_and_languages_replace_language() -> None:
    """gpt-live-transcribe gets prompt, keywords, languages (no ``language``) and delay."""
    audio_input = _transcription_input(
        openai_prompt="Ett samtal om väder",
        openai_keywords="Göteborg, Malmö",
        openai_languages="sv,en",
        openai_transcription_delay="low",
    )
    assert audio_input["transcription"] == {
        "model": "gpt-live-transcribe",
        "languages": ["sv", "en"],
        "prompt": "Ett samtal om väder",
        "keywords": ["Göteborg", "Malmö"],
        "delay": "low",
    }


def test_gpt_realtime_whisper_gets_delay_but_no_prompt_field() -> None:
    """gpt-realtime-whisper is sent its delay and the session language only."""
    audio_input = _transcription_input(
        openai_realtime_model="gpt-realtime-whisper", openai_transcription_delay="medium"
    )
    assert audio_input["transcription"] == {
        "model": "gpt-realtime-whisper",
        "language": "sv",
        "delay": "medium",
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [("openai_keywords", "a<b"), ("openai_keywords", "two\nlines"), ("openai_languages", "swe")],
)
def test_malformed_keywords_and_language_codes_are_refused(field: str, value: str) -> None:
    """A keyword with ``<``, ``>`` or a line break, or a language that is not ISO-639-1, fails."""
    with pytest.raises(ValidationError, match=field.upper()):
        _settings(**{field: value})


def test_deprecated_and_unknown_models_warn_with_the_date() -> None:
    """A deprecated model's warning names the shutdown date; an unknown one says how it is run."""
    _, warnings = resolve_config(_settings(openai_realtime_model="gpt-4o-mini-transcribe"))
    assert len(warnings) == 1
    assert "2027-02-26" in warnings[0]
    _, warnings = resolve_config(_settings(openai_realtime_model="gpt-next-transcribe"))
    assert len(warnings) == 1
    assert "turn-based" in warnings[0]
    assert resolve_config(_settings())[1] == []


@pytest.mark.anyio
async def test_the_engine_logs_the_warning_and_refuses_a_bad_setting_at_start(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """start() logs a deprecation warning once, and raises for an unsupported setting."""
    with caplog.at_level(logging.WARNING):
        await OpenAIEngine(_settings(openai_realtime_model="whisper-1")).start()
    assert any("2027-02-26" in record.getMessage() for record in caplog.records)
    engine = OpenAIEngine(_settings(openai_realtime_model="gpt-transcribe", openai_prompt=""))
    await engine.start()
    refused = OpenAIEngine(
        _settings(openai_realtime_model="gpt-realtime-whisper", openai_prompt="x")
    )
    with pytest.raises(RuntimeError, match="OPENAI_PROMPT not supported by gpt-realtime-whisper"):
        await refused.start()


def test_the_table_covers_every_model_the_sdk_names() -> None:
    """Every model in the SDK's ``AudioTranscription.model`` literal has a row."""
    from typing import get_args

    from openai.types.realtime import AudioTranscription

    annotation = AudioTranscription.model_fields["model"].annotation
    literal = next(arg for arg in get_args(annotation) if get_args(arg) and arg is not str)
    assert set(get_args(literal)) == set(MODELS)
    assert model_spec("gpt-live-transcribe").streaming
    assert not model_spec("gpt-next").known


_VALUES: dict[str, tuple[str, Any]] = {
    "prompt": ("openai_prompt", "Ett samtal"),
    "keywords": ("openai_keywords", "Göteborg"),
    "languages": ("openai_languages", "sv,en"),
    "delay": ("openai_transcription_delay", "low"),
}


@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize("field", sorted(_VALUES))
def test_the_engine_refuses_at_start_exactly_what_the_fake_refuses(model: str, field: str) -> None:
    """Per model and field, our start-up check and the strict fake (which stands for the real
    service) agree: a setting we accept becomes a ``session.update`` the fake applies, and one we
    refuse is a field the fake refuses too."""
    from openai.types.realtime import RealtimeTranscriptionSessionAudioInput

    from tests.openai_fake.rules import check_update

    setting, value = _VALUES[field]
    current = RealtimeTranscriptionSessionAudioInput.model_validate(
        {"turn_detection": {"type": "server_vad"}}
    )
    try:
        config, _ = resolve_config(_settings(openai_realtime_model=model, **{setting: value}))
    except ConfigError:
        raw = {
            "model": model,
            field: value.split(",") if field in {"keywords", "languages"} else value,
        }
        detection = None if MODELS[model].streaming else {"type": "server_vad"}
        refused = RealtimeTranscriptionSessionAudioInput.model_validate(
            {"transcription": raw, "turn_detection": detection}
        )
        problem = check_update(current, refused)
        assert problem is not None, (model, field)
        assert problem.param == f"session.audio.input.transcription.{field}"
        return
    sent = json.loads(session_update(config, "sv"))["session"]["audio"]["input"]
    accepted = RealtimeTranscriptionSessionAudioInput.model_validate(sent)
    assert check_update(current, accepted) is None, (model, field, sent)
