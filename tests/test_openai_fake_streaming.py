"""The fake's transcription behaviour: streaming deltas, commits, and what each model bills.

Raw clients against the fake; a 440 Hz tone is scripted as a nine-word sentence, so a streaming
model has words to send while the tone is appended.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import anyio
import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tests.openai_fake import FakeRealtimeServer, Scenario
from tests.openai_fake.audio import silence, tone
from tests.openai_fake.scenario import sentences
from tests.openai_fake.streaming import LiveTranscript
from tests.openai_fake.wire import (
    SERVER_VAD,
    client,
    commit,
    configure,
    drain,
    next_event,
    of_type,
    send,
    stream,
    until,
    update,
)

pytestmark = pytest.mark.anyio
SENTENCE = "the quick brown fox jumps over the lazy dog"
SCRIPTED = Scenario(transcribe=sentences({440: SENTENCE}))
LIVE = update("gpt-live-transcribe", language="sv", turn_detection=None)
DELTA = "conversation.item.input_audio_transcription.delta"
COMPLETED = "conversation.item.input_audio_transcription.completed"


@pytest.fixture
def anyio_backend() -> str:
    """Run these tests on asyncio (websockets needs it)."""
    return "asyncio"


def _text(events: list[dict[str, Any]]) -> str:
    return "".join(event["delta"] for event in of_type(events, DELTA))


async def _commit(ws: ClientConnection, event_id: str | None = None) -> list[dict[str, Any]]:
    """Commit and return every event up to the item's ``completed``."""
    await send(ws, commit(event_id))
    return await until(ws, COMPLETED)


async def _until_closed(ws: ClientConnection) -> list[dict[str, Any]]:
    """Every event until the fake closes the connection (fails after 2 s)."""
    seen: list[dict[str, Any]] = []
    with contextlib.suppress(ConnectionClosed), anyio.fail_after(2):
        while True:
            seen.append(json.loads(await ws.recv()))
    return seen


class TestStreaming:
    async def test_deltas_arrive_before_the_commit_and_hold_back_the_last_word(self) -> None:
        """While the tone is appended the sentence streams word by word for the item the next
        commit creates, all but its last word, with no speech events and no commit."""
        async with FakeRealtimeServer(SCRIPTED) as fake, client(fake) as ws:
            await configure(ws, LIVE)
            await stream(ws, tone(440, 2.9))
            before = await drain(ws)
            after = await _commit(ws)
        assert {event["type"] for event in before} == {DELTA}
        assert _text(before) == "the quick brown fox jumps over the lazy"
        [committed] = of_type(after, "input_audio_buffer.committed")
        assert {event["item_id"] for event in before} == {committed["item_id"]}

    async def test_the_commit_brings_the_rest_and_completed_with_duration_usage(self) -> None:
        """After the commit: committed, item added, the held-back word, then ``completed`` with
        the whole sentence and the committed seconds rounded up."""
        async with FakeRealtimeServer(SCRIPTED) as fake, client(fake) as ws:
            await configure(ws, LIVE)
            await stream(ws, tone(440, 2.9))
            await drain(ws)
            after = await _commit(ws)
        kinds = [event["type"] for event in after]
        assert kinds == [
            "input_audio_buffer.committed",
            "conversation.item.added",
            DELTA,
            COMPLETED,
        ]
        assert after[2]["delta"] == " dog"
        assert after[-1]["transcript"] == SENTENCE
        assert after[-1]["usage"] == {"type": "duration", "seconds": 3}
        assert fake.connections[0].billed_s == 3

    @pytest.mark.parametrize(
        ("delay", "override", "first_s"),
        [(None, None, 0.5), ("minimal", None, 0.3), ("xhigh", None, 1.6), ("high", 0.2, 0.2)],
    )
    async def test_the_first_delta_waits_for_the_delay_worth_of_voiced_audio(
        self, delay: str | None, override: float | None, first_s: float
    ) -> None:
        """Silence does not count; the first word comes once ``first_delta_s`` (by ``delay``,
        default low, or the scenario's override) of tone is buffered, the next after
        ``word_s`` (0.25 s) more."""
        scenario = Scenario(transcribe=sentences({440: SENTENCE}), first_delta_s=override)
        fields = {"delay": delay} if delay else {}
        live = update("gpt-live-transcribe", turn_detection=None, **fields)
        async with FakeRealtimeServer(scenario) as fake, client(fake) as ws:
            await configure(ws, live)
            await stream(ws, silence(2.0) + tone(440, first_s - 0.05))
            nothing = await drain(ws)
            await stream(ws, tone(440, 0.1))
            first = await drain(ws)
            await stream(ws, tone(440, 0.22))
            second = await drain(ws)
        assert nothing == []
        assert _text(first) == "the"
        assert _text(second) == " quick"

    async def test_a_cleared_buffer_starts_a_new_item_and_a_new_text(self) -> None:
        """After ``clear`` the streamed words start again from the first, for a new item."""
        async with FakeRealtimeServer(SCRIPTED) as fake, client(fake) as ws:
            await configure(ws, LIVE)
            await stream(ws, tone(440, 1.0))
            old = await drain(ws)
            await send(ws, {"type": "input_audio_buffer.clear"})
            await stream(ws, tone(440, 1.0))
            new = await drain(ws)
        assert new[0]["type"] == "input_audio_buffer.cleared"
        assert _text(old) == _text(new) == "the quick brown"
        assert new[1]["item_id"] != old[0]["item_id"]

    async def test_a_commit_under_100ms_is_refused_and_the_session_goes_on(self) -> None:
        """``input_audio_buffer_commit_empty`` for that commit's event id, no item; a later
        commit of enough audio makes the item the deltas named."""
        async with FakeRealtimeServer(SCRIPTED) as fake, client(fake) as ws:
            await configure(ws, LIVE)
            await stream(ws, tone(440, 0.05))
            await send(ws, commit("c1"))
            refused = await drain(ws)
            await stream(ws, tone(440, 1.0))
            after = await _commit(ws, "c2")
        assert [event["type"] for event in refused] == ["error"]
        assert refused[0]["error"]["code"] == "input_audio_buffer_commit_empty"
        assert refused[0]["error"]["event_id"] == "c1"
        [committed] = of_type(after, "input_audio_buffer.committed")
        assert {event["item_id"] for event in of_type(after, DELTA)} == {committed["item_id"]}
        assert after[-1]["transcript"] == SENTENCE

    async def test_a_silent_commit_is_billed_with_an_empty_transcript(self) -> None:
        """1.2 s of silence commits, gets no delta, an empty transcript, and 2 billed seconds."""
        async with FakeRealtimeServer(SCRIPTED) as fake, client(fake) as ws:
            await configure(ws, LIVE)
            await stream(ws, silence(1.2))
            after = await _commit(ws)
        assert of_type(after, DELTA) == []
        assert after[-1]["transcript"] == ""
        assert after[-1]["usage"] == {"type": "duration", "seconds": 2}
        assert fake.connections[0].appended_s == pytest.approx(1.2)

    async def test_a_dropped_streaming_connection_is_cut_after_its_appends(self) -> None:
        """``drop_after_appends`` applies in streaming mode: deltas so far, then the cut."""
        scenario = Scenario(transcribe=sentences({440: SENTENCE}), drop_after_appends=8)
        async with FakeRealtimeServer(scenario) as fake, client(fake) as ws:
            await configure(ws, LIVE)
            await stream(ws, tone(440, 0.8))
            seen = await _until_closed(ws)
        assert _text(seen) == "the quick"
        assert ws.close_code == 1006
        assert fake.connections[0].appended_s == pytest.approx(0.8)


class TestTurnBased:
    @pytest.mark.parametrize(
        ("model", "fields", "text_tokens"),
        [
            ("gpt-4o-transcribe", {"prompt": "two words"}, 2),
            ("gpt-transcribe", {"keywords": ["Anna", "Bertil Ek"]}, 3),
        ],
    )
    async def test_token_billed_models_report_token_usage(
        self, model: str, fields: dict[str, Any], text_tokens: int
    ) -> None:
        """With ``turn_detection: null`` nothing happens before the client commits; then the
        words and ``completed`` with tokens: 10 audio tokens per second, a text token per
        prompt/keyword word, an output token per word plus one."""
        async with FakeRealtimeServer() as fake, client(fake) as ws:
            await configure(ws, update(model, turn_detection=None, **fields))
            await stream(ws, tone(440, 1.0) + silence(0.5))
            before = await drain(ws)
            after = await _commit(ws)
        assert before == []
        assert _text(after) == after[-1]["transcript"] == "tone 440 hz"
        assert after[-1]["usage"] == {
            "type": "tokens",
            "input_tokens": 15 + text_tokens,
            "output_tokens": 4,
            "total_tokens": 19 + text_tokens,
            "input_token_details": {"audio_tokens": 15, "text_tokens": text_tokens},
        }

    async def test_whisper_sends_the_whole_turn_in_one_delta_billed_by_duration(self) -> None:
        """whisper-1 under server VAD: one delta with the whole turn, duration usage."""
        async with FakeRealtimeServer() as fake, client(fake) as ws:
            await configure(ws, update("whisper-1", turn_detection=SERVER_VAD))
            await stream(ws, tone(440, 0.6) + silence(0.5))
            events = await until(ws, COMPLETED)
        assert [event["delta"] for event in of_type(events, DELTA)] == ["tone 440 hz"]
        assert events[-1]["usage"] == {"type": "duration", "seconds": 1}

    async def test_a_stalled_turn_is_committed_but_never_completes(self) -> None:
        """``stall_turns``: turn 0 gets its commit and nothing more; turn 1 completes."""
        scenario = Scenario(stall_turns=frozenset({0}))
        async with FakeRealtimeServer(scenario) as fake, client(fake) as ws:
            await configure(ws, update("gpt-transcribe", turn_detection=None))
            await stream(ws, tone(440, 0.5))
            await send(ws, commit())
            await stream(ws, tone(300, 0.5))
            events = await _commit(ws)
            with anyio.move_on_after(0.2):
                events.append(await next_event(ws, COMPLETED))
        first, second = of_type(events, "input_audio_buffer.committed")
        [done] = of_type(events, COMPLETED)
        assert done["item_id"] == second["item_id"] != first["item_id"]
        assert {event["item_id"] for event in of_type(events, DELTA)} == {second["item_id"]}


def test_streamed_words_stay_append_only_when_the_text_changes() -> None:
    """A text that stops matching the words sent pauses the deltas until it matches again; a
    final text that does not match owes nothing more."""
    texts = iter(["a b c d e", "x y z w v", "a b c d e", "a b c d e", "a b c d e"])
    live = LiveTranscript(lambda _: next(texts), threshold=0.02, first_delta_s=0.1, word_s=0.1)
    loud = np.frombuffer(tone(440, 0.1), dtype="<i2")
    got = [live.feed(loud) for _ in range(4)]
    assert got == [["a"], [], [" b", " c"], [" d"]]
    assert live.commit("a b c d e f") == [" e", " f"]
    assert live.feed(loud) == ["a"]
    assert live.commit("other text") == []
    assert live.sent == []
