"""The fake's per-model ``session.update`` rules: what each transcription model refuses.

Every refusal is an ``error`` for the update's ``event_id``, with no ``session.updated`` and
nothing of the update applied.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.openai_fake import FakeRealtimeServer, Scenario
from tests.openai_fake.wire import (
    ABSENT,
    SERVER_VAD,
    client,
    configure,
    next_event,
    send,
    until,
    update,
)

pytestmark = pytest.mark.anyio
TURN_DETECTION = "session.audio.input.turn_detection"
TRANSCRIPTION = "session.audio.input.transcription"


@pytest.fixture
def anyio_backend() -> str:
    """Run these tests on asyncio (websockets needs it)."""
    return "asyncio"


async def _refusal(event: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Send ``event`` (as ``u1``) to a fresh session, then an empty update: the error ``u1``
    got, and the ``audio.input`` the empty update's ``session.updated`` shows."""
    async with FakeRealtimeServer() as fake, client(fake) as ws:
        await next_event(ws, "session.created")
        await send(ws, {**event, "event_id": "u1"})
        await send(ws, update())
        answers = await until(ws, "session.updated")
    assert [answer["type"] for answer in answers] == ["error", "session.updated"], answers
    return answers[0]["error"], answers[1]["session"]["audio"]["input"]


class TestModelRules:
    @pytest.mark.parametrize("model", ["gpt-live-transcribe", "gpt-realtime-whisper"])
    async def test_a_streaming_model_without_an_explicit_null_turn_detection_is_refused(
        self, model: str
    ) -> None:
        """The session starts with server VAD; selecting a streaming model without sending
        ``"turn_detection": null`` is refused as a whole, for that update's event id."""
        error, session = await _refusal(update(model, language="sv"))
        assert session["transcription"] is None
        assert session["turn_detection"]["type"] == "server_vad"
        assert error["code"] == "invalid_value"
        assert error["message"] == "Turn detection is not supported for this transcription model."
        assert error["param"] == TURN_DETECTION
        assert error["event_id"] == "u1"

    @pytest.mark.parametrize("model", ["gpt-live-transcribe", "gpt-realtime-whisper"])
    async def test_a_streaming_model_with_an_explicit_null_turn_detection_is_accepted(
        self, model: str
    ) -> None:
        """The same update with ``"turn_detection": null`` is applied and echoed."""
        async with FakeRealtimeServer() as fake, client(fake) as ws:
            updated = await configure(ws, update(model, language="sv", turn_detection=None))
        audio_input = updated["session"]["audio"]["input"]
        assert audio_input["turn_detection"] is None
        assert audio_input["transcription"] == {"model": model, "language": "sv"}

    async def test_server_vad_is_refused_for_a_streaming_model(self) -> None:
        """An explicit server VAD with a streaming model is refused like an absent one."""
        error, _ = await _refusal(update("gpt-live-transcribe", turn_detection=SERVER_VAD))
        assert error["param"] == TURN_DETECTION

    async def test_a_later_update_cannot_turn_vad_back_on_under_a_streaming_model(self) -> None:
        """The check is on the effective configuration: re-enabling VAD alone is refused and
        the session keeps ``turn_detection: null``."""
        async with FakeRealtimeServer() as fake, client(fake) as ws:
            await configure(ws, update("gpt-live-transcribe", turn_detection=None))
            await send(ws, update(turn_detection=SERVER_VAD, event_id="u2"))
            error = await next_event(ws, "error")
            [connection] = fake.connections
        assert (error["error"]["param"], error["error"]["event_id"]) == (TURN_DETECTION, "u2")
        assert connection.sent_types()[-1] == "error"
        assert "session.updated" not in connection.sent_types()[2:]

    @pytest.mark.parametrize(
        ("model", "field", "value"),
        [
            ("gpt-realtime-whisper", "prompt", "names"),
            ("gpt-4o-transcribe-diarize", "prompt", "names"),
            ("gpt-realtime-whisper", "keywords", ["Anna"]),
            ("gpt-realtime-whisper", "languages", ["sv"]),
            ("whisper-1", "keywords", ["Anna"]),
            ("gpt-4o-transcribe", "languages", ["sv"]),
            ("gpt-4o-mini-transcribe", "delay", "low"),
            ("gpt-transcribe", "delay", "low"),
        ],
    )
    async def test_a_field_the_model_does_not_take_is_refused(
        self, model: str, field: str, value: Any
    ) -> None:
        """Per model: keywords/languages only for gpt-transcribe and gpt-live-transcribe, delay
        only for the streaming models, no prompt for gpt-realtime-whisper or the diarize model;
        the update is refused and nothing of it applied."""
        streaming = model in {"gpt-live-transcribe", "gpt-realtime-whisper"}
        detection = None if streaming else SERVER_VAD
        error, session = await _refusal(update(model, turn_detection=detection, **{field: value}))
        assert (error["code"], error["param"]) == ("invalid_value", f"{TRANSCRIPTION}.{field}")
        assert error["message"] == f"'{field}' is not supported for transcription model '{model}'."
        assert session["transcription"] is None

    @pytest.mark.parametrize(
        ("model", "fields"),
        [
            (
                "gpt-live-transcribe",
                {"prompt": "p", "keywords": ["Anna"], "languages": ["sv"], "delay": "low"},
            ),
            ("gpt-transcribe", {"prompt": "p", "keywords": ["Anna"], "languages": ["sv", "en"]}),
            ("gpt-realtime-whisper", {"delay": "xhigh", "language": "sv"}),
            ("whisper-1", {"prompt": "Anna, Bertil", "language": "sv"}),
        ],
    )
    async def test_the_fields_a_model_takes_are_accepted(
        self, model: str, fields: dict[str, Any]
    ) -> None:
        """Each model's own fields go through and are echoed in ``session.updated``."""
        detection = None if model in {"gpt-live-transcribe", "gpt-realtime-whisper"} else ABSENT
        async with FakeRealtimeServer() as fake, client(fake) as ws:
            updated = await configure(ws, update(model, turn_detection=detection, **fields))
        assert updated["session"]["audio"]["input"]["transcription"] == {"model": model, **fields}

    async def test_language_and_languages_together_are_refused(self) -> None:
        """``language`` and ``languages`` may not both be sent."""
        error, _ = await _refusal(update("gpt-transcribe", language="sv", languages=["sv"]))
        assert error["param"] == f"{TRANSCRIPTION}.languages"
        assert error["message"] == "Provide either 'language' or 'languages', not both."

    @pytest.mark.parametrize("keyword", ["a<b", "a>b", "two\rlines", "two\nlines"])
    async def test_a_keyword_with_angle_brackets_or_line_breaks_is_refused(
        self, keyword: str
    ) -> None:
        """Keywords must not contain ``<``, ``>``, CR or LF."""
        error, _ = await _refusal(update("gpt-transcribe", keywords=["ok", keyword]))
        assert (error["code"], error["param"]) == ("invalid_value", f"{TRANSCRIPTION}.keywords")

    @pytest.mark.parametrize(
        ("field", "value"), [("languages", ["sv", "swe"]), ("languages", ["SV"]), ("language", "")]
    )
    async def test_a_language_code_that_is_not_iso_639_1_is_refused(
        self, field: str, value: Any
    ) -> None:
        """``languages`` entries (and ``language``) must be two-letter ISO-639-1 codes."""
        error, _ = await _refusal(update("gpt-transcribe", **{field: value}))
        assert (error["code"], error["param"]) == ("invalid_value", f"{TRANSCRIPTION}.{field}")

    async def test_an_unknown_model_is_refused(self) -> None:
        """A model id outside the fake's table is refused on ``...transcription.model``."""
        error, _ = await _refusal(update("gpt-next-transcribe"))
        assert error["param"] == f"{TRANSCRIPTION}.model"
        assert (
            error["message"]
            == "Invalid value: 'gpt-next-transcribe'. Unsupported transcription model."
        )

    async def test_the_scenario_allow_list_refuses_other_models(self) -> None:
        """``Scenario.models`` narrows the table: a known model outside it is refused."""
        scenario = Scenario(models=frozenset({"gpt-transcribe"}))
        async with FakeRealtimeServer(scenario) as fake, client(fake) as ws:
            await next_event(ws, "session.created")
            await send(ws, update("gpt-4o-transcribe", event_id="u1"))
            error = await next_event(ws, "error")
        assert (error["error"]["param"], error["error"]["event_id"]) == (
            f"{TRANSCRIPTION}.model",
            "u1",
        )
