"""The fake upstream itself is strict: it refuses what the real GA service refuses.

Handshake, event validation and audio basics here; the per-model ``session.update`` rules in
``test_openai_fake_models.py``; streaming, commits and billing in
``test_openai_fake_streaming.py``.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import numpy as np
import pytest
import soxr
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.openai_fake import FakeRealtimeServer, Scenario
from tests.openai_fake.audio import silence, tone
from tests.openai_fake.wire import (
    KEY,
    SERVER_VAD,
    append,
    client,
    configure,
    next_event,
    send,
    update,
)

pytestmark = pytest.mark.anyio
GOOD_UPDATE = update("gpt-4o-mini-transcribe", language="en", turn_detection=SERVER_VAD)


@pytest.fixture
def anyio_backend() -> str:
    """Run these tests on asyncio (websockets needs it)."""
    return "asyncio"


async def _configured(ws: ClientConnection) -> None:
    await configure(ws, GOOD_UPDATE)


class TestHandshake:
    async def test_a_wrong_key_is_refused_with_401(self) -> None:
        """A bearer key other than the scenario's is refused before the upgrade."""
        async with FakeRealtimeServer() as fake:
            with pytest.raises(InvalidStatus) as refused:
                async with client(fake, headers={"Authorization": "Bearer nope"}):
                    pass
        assert refused.value.response.status_code == 401
        assert b"invalid_api_key" in refused.value.response.body

    async def test_a_missing_key_is_refused_with_401(self) -> None:
        """A request without an ``Authorization`` header is refused with 401."""
        async with FakeRealtimeServer() as fake:
            with pytest.raises(InvalidStatus) as refused:
                async with client(fake, headers={"X-Other": "1"}):
                    pass
        assert refused.value.response.status_code == 401

    async def test_a_refusal_scenario_answers_every_handshake_with_its_status(self) -> None:
        """``refuse_status`` makes every upgrade fail with that HTTP status."""
        async with FakeRealtimeServer(Scenario(refuse_status=500)) as fake:
            with pytest.raises(InvalidStatus) as refused:
                async with client(fake):
                    pass
        assert refused.value.response.status_code == 500

    async def test_the_beta_header_gets_beta_api_shape_disabled_and_close_4000(self) -> None:
        """``OpenAI-Beta`` gets the ``beta_api_shape_disabled`` error and close code 4000."""
        async with FakeRealtimeServer() as fake:
            headers = {**KEY, "OpenAI-Beta": "realtime=v1"}
            async with client(fake, headers=headers) as ws:
                error = await next_event(ws, "error")
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
        assert error["error"]["code"] == "beta_api_shape_disabled"
        assert ws.close_code == 4000

    async def test_without_transcription_intent_the_transcription_update_is_refused(self) -> None:
        """A connection without ``intent=transcription`` refuses a transcription session.update."""
        async with FakeRealtimeServer() as fake:
            url = fake.ws_url.replace("?intent=transcription", "?model=gpt-realtime")
            async with client(fake, url=url) as ws:
                created = await next_event(ws, "session.created")
                await send(ws, GOOD_UPDATE)
                error = await next_event(ws, "error")
        assert created["session"]["type"] == "realtime"
        assert (
            "transcription session update event to a realtime session"
            in (error["error"]["message"])
        )

    async def test_a_stalling_server_sends_nothing(self) -> None:
        """With ``stall`` the upgrade succeeds but no event ever arrives."""
        async with FakeRealtimeServer(Scenario(stall=True)) as fake, client(fake) as ws:
            with anyio.move_on_after(0.2) as scope:
                await ws.recv()
        assert scope.cancelled_caught


class TestEventValidation:
    async def test_a_16khz_pcm_format_is_refused(self) -> None:
        """``audio/pcm`` at 16000 Hz is refused with ``integer_below_min_value`` on the rate."""
        update = json.loads(json.dumps(GOOD_UPDATE))
        update["session"]["audio"]["input"]["format"]["rate"] = 16000
        async with FakeRealtimeServer() as fake, client(fake) as ws:
            await next_event(ws, "session.created")
            await send(ws, update)
            error = await next_event(ws, "error")
        assert error["error"]["type"] == "invalid_request_error"
        assert error["error"]["code"] == "integer_below_min_value"
        assert error["error"]["param"] == "session.audio.input.format.rate"

    async def test_a_48khz_pcm_format_is_refused(self) -> None:
        """Any PCM rate other than 24000 is refused as ``invalid_value``."""
        update = json.loads(json.dumps(GOOD_UPDATE))
        update["session"]["audio"]["input"]["format"]["rate"] = 48000
        async with FakeRealtimeServer() as fake, client(fake) as ws:
            await next_event(ws, "session.created")
            await send(ws, update)
            error = await next_event(ws, "error")
        assert error["error"]["code"] == "invalid_value"

    @pytest.mark.parametrize(
        ("frame", "code", "param"),
        [
            ("not json", "invalid_json", None),
            ('["a list"]', "invalid_value", None),
            ('{"no": "type"}', "missing_required_parameter", "type"),
            ('{"type": "transcription_session.update", "session": {}}', "invalid_value", "type"),
            ('{"type": "input_audio_buffer.append"}', "missing_required_parameter", "audio"),
            ('{"type": "input_audio_buffer.commit", "extra": 1}', "unknown_parameter", "extra"),
            (
                '{"type": "session.update", "session": {"type": "transcription", "bogus": 1}}',
                "unknown_parameter",
                "session.bogus",
            ),
        ],
    )
    async def test_malformed_or_foreign_events_get_invalid_request_errors(
        self, frame: str, code: str, param: str | None
    ) -> None:
        """A frame that is not a valid GA client event gets an error and is recorded as refused."""
        async with FakeRealtimeServer() as fake:
            async with client(fake) as ws:
                await _configured(ws)
                await send(ws, frame)
                error = await next_event(ws, "error")
            [(refused_frame, problem)] = fake.connections[0].refused
        assert refused_frame == frame
        assert (problem.code, problem.param) == (code, param)
        assert error["error"]["type"] == "invalid_request_error"
        assert (error["error"]["code"], error["error"].get("param")) == (code, param)

    @pytest.mark.parametrize(
        ("event", "param"),
        [
            ({"type": "input_audio_buffer.append", "audio": "@@@"}, "audio"),
            ({"type": "input_audio_buffer.append", "audio": "AA=="}, "audio"),
            ({"type": "response.create"}, "type"),
        ],
    )
    async def test_valid_shapes_with_unusable_content_are_refused(
        self, event: dict[str, Any], param: str
    ) -> None:
        """Bad base64, odd-length audio, and conversation-only events get ``invalid_value``."""
        async with FakeRealtimeServer() as fake, client(fake) as ws:
            await _configured(ws)
            await send(ws, event)
            error = await next_event(ws, "error")
        assert (error["error"]["code"], error["error"]["param"]) == ("invalid_value", param)

    async def test_a_binary_frame_is_refused(self) -> None:
        """Raw audio sent as a binary frame is refused; audio must be base64 in JSON."""
        async with FakeRealtimeServer() as fake, client(fake) as ws:
            await _configured(ws)
            await ws.send(silence(0.1))
            error = await next_event(ws, "error")
        assert error["error"]["code"] == "invalid_value"

    async def test_a_commit_under_100ms_is_refused_with_its_event_id(self) -> None:
        """Committing less than 100 ms gets ``input_audio_buffer_commit_empty`` for that event."""
        async with FakeRealtimeServer() as fake, client(fake) as ws:
            await _configured(ws)
            await send(ws, append(silence(0.05)))
            await send(ws, {"type": "input_audio_buffer.commit", "event_id": "c1"})
            error = await next_event(ws, "error")
        assert error["error"]["code"] == "input_audio_buffer_commit_empty"
        assert error["error"]["event_id"] == "c1"


class TestAudio:
    async def test_vad_turns_carry_times_and_ordered_item_ids(self) -> None:
        """Speech gives started/stopped with padded times and commits chained by previous id."""
        audio = tone(440, 0.4) + silence(0.5) + tone(300, 0.4) + silence(0.5)
        async with FakeRealtimeServer() as fake, client(fake) as ws:
            await _configured(ws)
            await send(ws, append(audio))
            started = [await next_event(ws, "input_audio_buffer.speech_started")]
            stopped = [await next_event(ws, "input_audio_buffer.speech_stopped")]
            committed = [await next_event(ws, "input_audio_buffer.committed")]
            started.append(await next_event(ws, "input_audio_buffer.speech_started"))
            stopped.append(await next_event(ws, "input_audio_buffer.speech_stopped"))
            committed.append(await next_event(ws, "input_audio_buffer.committed"))
            done = await next_event(ws, "conversation.item.input_audio_transcription.completed")
        assert [e["audio_start_ms"] for e in started] == [0, 800]
        assert [e["audio_end_ms"] for e in stopped] == [700, 1600]
        assert committed[0].get("previous_item_id") is None
        assert committed[1]["previous_item_id"] == committed[0]["item_id"]
        assert done["transcript"] in {"tone 440 hz", "tone 300 hz"}

    async def test_16khz_audio_declared_as_24khz_is_heard_at_the_wrong_pitch(self) -> None:
        """A 440 Hz tone recorded at 16 kHz but sent as 24 kHz is transcribed as 660 Hz."""
        async with FakeRealtimeServer() as fake, client(fake) as ws:
            await _configured(ws)
            await send(ws, append(tone(440, 0.6, rate=16_000) + silence(0.5)))
            done = await next_event(ws, "conversation.item.input_audio_transcription.completed")
        assert done["transcript"] == "tone 660 hz"
        assert fake.turns[0].voiced_ms == 400

    async def test_16khz_audio_resampled_to_24khz_is_heard_correctly(self) -> None:
        """The same tone resampled 16 kHz to 24 kHz keeps its pitch and duration."""
        pcm16 = tone(440, 0.6, rate=16_000)
        samples = soxr.resample(np.frombuffer(pcm16, dtype="<i2"), 16_000, 24_000)
        async with FakeRealtimeServer() as fake, client(fake) as ws:
            await _configured(ws)
            await send(ws, append(samples.astype("<i2").tobytes() + silence(0.5)))
            done = await next_event(ws, "conversation.item.input_audio_transcription.completed")
        assert done["transcript"] == "tone 440 hz"
        assert 590 <= fake.turns[0].voiced_ms <= 610
