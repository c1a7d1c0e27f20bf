"""The OpenAI engine with client commits (our VAD ends turns), against the strict fake.

Audio is the project's espeak speech at 16 kHz, as clients send it: our Silero VAD must hear
speech. The fake names each committed turn by the pitch it hears, so a final's text proves which
audio reached upstream; ``fake.turns`` lists what it transcribed, in commit order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import anyio
import pytest

from realtime_stt.engine.protocol import EngineEvent, Partial, SessionConfig, SpeechStarted
from realtime_stt.openai_engine import OpenAIEngine
from tests.conftest import silence, speech
from tests.openai_fake import FakeRealtimeServer, Scenario
from tests.openai_fake.harness import FAST, errors, finals, started_engine

pytestmark = pytest.mark.anyio
RATE = 16_000
SENTENCES = ("en_weather", "sv_city", "en_fox")


@pytest.fixture
def anyio_backend() -> str:
    """Run these tests on asyncio (websockets needs it)."""
    return "asyncio"


def conversation(pause_s: float = 1.5, names: Sequence[str] = SENTENCES) -> bytes:
    """The sentences, each followed by ``pause_s`` of silence, after 0.5 s of silence."""
    return silence(0.5) + b"".join(speech(name) + silence(pause_s) for name in names)


async def run(
    engine: OpenAIEngine,
    audio: bytes,
    *,
    flush_at: Sequence[int] = (),
    pace_s: float = 0.0,
    timeout_s: float = 20.0,
) -> list[EngineEvent]:
    """Stream ``audio`` in 100-ms chunks (``pace_s`` apart; flushing after the chunks in
    ``flush_at``), end the input, and collect every event."""
    events: list[EngineEvent] = []
    async with engine.open_session(SessionConfig("test", "sv")) as session:

        async def consume() -> None:
            async for event in session:
                events.append(event)

        with anyio.fail_after(timeout_s):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(consume)
                size = 2 * RATE // 10
                for index, start in enumerate(range(0, len(audio), size)):
                    session.push_audio(audio[start : start + size])
                    await session.wait_for_room()
                    if index in flush_at:
                        session.flush()
                    if pace_s:
                        await anyio.sleep(pace_s)
                session.end_input()
    return events


def turn_texts(fake: FakeRealtimeServer) -> list[str]:
    return [turn.text for turn in fake.turns]


@pytest.mark.parametrize(
    ("model", "mode"),
    [
        ("gpt-live-transcribe", "auto"),
        ("gpt-realtime-whisper", "auto"),
        ("gpt-transcribe", "client"),
        ("gpt-transcribe", "auto"),
    ],
)
async def test_every_sentence_gets_its_final_in_order_with_each_model(
    model: str, mode: str
) -> None:
    """Three sentences with pauses: one final per turn upstream transcribed, in order, each
    inside its sentence's time span, and no error event."""
    audio = conversation()
    async with FakeRealtimeServer() as fake:
        engine = await started_engine(fake, model=model, openai_turn_detection=mode)
        events = await run(engine, audio)
    assert errors(events) == []
    got = finals(events)
    assert len(got) >= len(SENTENCES)
    # upstream's VAD mode may commit a silent tail at the end, which the engine drops
    expected = turn_texts(fake) if mode == "client" or model != "gpt-transcribe" else None
    assert [final.text for final in got] == (expected or [t for t in turn_texts(fake) if t])
    assert [final.segment_id for final in got] == list(range(len(got)))
    spans, at = [], 0.5
    for name in SENTENCES:
        length = len(speech(name)) / 2 / RATE
        spans.append((at, at + length))
        at += length + 1.5
    for final in got if mode == "client" or model != "gpt-transcribe" else ():
        assert any(a - 0.35 <= final.start_s <= final.end_s <= b + 0.35 for a, b in spans), final
    starts = [event for event in events if isinstance(event, SpeechStarted)]
    assert [event.segment_id for event in starts] == [final.segment_id for final in got]


async def test_pauses_between_turns_are_not_sent_upstream() -> None:
    """With 3-s pauses, upstream receives the speech and its padding, almost no pause."""
    audio = conversation(pause_s=3.0)
    async with FakeRealtimeServer() as fake:
        events = await run(await started_engine(fake, model="gpt-live-transcribe"), audio)
    assert errors(events) == []
    sent_s = sum(len(c.audio) for c in fake.connections) / 2 / 24_000
    speech_s = sum(len(speech(name)) for name in SENTENCES) / 2 / RATE
    received_s = len(audio) / 2 / RATE
    assert sent_s < speech_s + 0.5 * len(SENTENCES) + 0.5
    assert sent_s < 0.7 * received_s


async def test_flush_commits_the_turn_at_once() -> None:
    """A flush mid-sentence (push-to-talk release) commits what was said so far."""
    audio = silence(0.3) + speech("en_weather")
    async with FakeRealtimeServer() as fake:
        engine = await started_engine(fake, model="gpt-live-transcribe")
        events = await run(engine, audio, flush_at=(20,))
    got = finals(events)
    assert len(got) >= 2
    assert got[0].end_s <= 2.2
    assert errors(events) == []


async def test_audio_at_24khz_reaches_upstream_and_commits_are_never_empty() -> None:
    """Upstream gets 24-kHz PCM (the fake refuses other rates) and no ``commit_empty``."""
    async with FakeRealtimeServer() as fake:
        await run(await started_engine(fake, model="gpt-live-transcribe"), conversation())
    [connection] = fake.connections
    assert connection.refused == []
    codes = [getattr(event, "error", None) for event in connection.sent]
    assert not any(error is not None for error in codes)


async def test_a_dropped_connection_resends_the_owed_turns_and_loses_nothing() -> None:
    """A connection that drops mid-stream: its unfinished turns are sent again on a new one,
    and every sentence still gets its final, in order."""
    scenario = Scenario(drop_after_appends=8)
    async with FakeRealtimeServer(scenario) as fake:
        engine = await started_engine(fake, model="gpt-live-transcribe")
        events = await run(engine, conversation())
    assert len(fake.connections) == 2
    got = finals(events)
    assert len(got) >= len(SENTENCES)
    assert [final.segment_id for final in got] == list(range(len(got)))
    assert all(final.text for final in got)
    assert [e.code for e in errors(events)] == []


async def test_an_expired_session_is_replaced_and_no_sentence_is_lost() -> None:
    """Upstream's ``session_expired`` (then close 1000) mid-conversation: a new connection
    takes over, and every sentence still gets its final, in order, with no error event."""
    scenario = Scenario(session_expiry_s=1.5)
    async with FakeRealtimeServer(scenario) as fake:
        engine = await started_engine(fake, model="gpt-live-transcribe")
        events = await run(engine, conversation(), pace_s=0.02, timeout_s=30.0)
    assert len(fake.connections) >= 2
    got = finals(events)
    assert len(got) >= len(SENTENCES)
    assert [final.segment_id for final in got] == list(range(len(got)))
    assert all(final.text for final in got)
    assert errors(events) == []


async def test_rotation_moves_to_a_new_connection_between_turns() -> None:
    """After ``rotate_after_s`` the next pause opens a new connection; nothing is lost."""
    tuning = dataclasses.replace(FAST, rotate_after_s=1.0)
    async with FakeRealtimeServer() as fake:
        engine = await started_engine(fake, tuning, model="gpt-live-transcribe")
        events = await run(engine, conversation(), pace_s=0.02, timeout_s=30.0)
    assert len(fake.connections) >= 2
    got = finals(events)
    assert [final.text for final in got] == turn_texts(fake)
    assert errors(events) == []


async def test_usage_is_counted_per_model() -> None:
    """``completed.usage`` and the seconds appended add up in the engine's totals."""
    async with FakeRealtimeServer() as fake:
        engine = await started_engine(fake, model="gpt-live-transcribe")
        await run(engine, conversation())
    tally = engine.usage.by_model["gpt-live-transcribe"]
    sent_s = sum(len(c.audio) for c in fake.connections) / 2 / 24_000
    assert tally.sent_s == pytest.approx(sent_s, abs=0.01)
    assert tally.turns == len(fake.turns)
    assert tally.billed_s >= sent_s


SENTENCE = "the weather in the north will be sunny and warm tomorrow"


def say_sentence(frequency: float | None) -> str:
    """The fake's transcript of any voiced audio: one ten-word sentence."""
    return "" if frequency is None else SENTENCE


async def timed_run(
    engine: OpenAIEngine, audio: bytes, *, pace_s: float, timeout_s: float = 30.0
) -> list[tuple[float, EngineEvent]]:
    """Like :func:`run`, paced, recording how many seconds of audio had been pushed when each
    event arrived."""
    timed: list[tuple[float, EngineEvent]] = []
    pushed = 0.0
    async with engine.open_session(SessionConfig("test", "sv")) as session:

        async def consume() -> None:
            async for event in session:
                timed.append((pushed, event))

        with anyio.fail_after(timeout_s):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(consume)
                size = 2 * RATE // 10
                for start in range(0, len(audio), size):
                    session.push_audio(audio[start : start + size])
                    pushed += 0.1
                    await session.wait_for_room()
                    await anyio.sleep(pace_s)
                session.end_input()
    return timed


@pytest.mark.parametrize("model", ["gpt-live-transcribe", "gpt-realtime-whisper"])
async def test_streaming_models_send_partials_while_the_sentence_is_spoken(model: str) -> None:
    """Each sentence's first partial arrives before its speech has all been pushed, grows word by
    word, and the final closes it; a turn-based model sends nothing before the turn ends."""
    audio = conversation(names=("en_fox", "sv_weather"))
    async with FakeRealtimeServer(Scenario(transcribe=say_sentence)) as fake:
        engine = await started_engine(fake, model=model)
        timed = await timed_run(engine, audio, pace_s=0.025)
    events = [event for _, event in timed]
    assert errors(events) == []
    got = finals(events)
    assert len(got) >= 2
    for final in got:
        assert final.text == SENTENCE
        partials = [
            (pushed, e)
            for pushed, e in timed
            if isinstance(e, Partial) and e.segment_id == final.segment_id
        ]
        assert partials, f"no partial for segment {final.segment_id}"
        first_at = partials[0][0]
        assert first_at < final.end_s - 0.3, (first_at, final)
        texts = [partial.text for _, partial in partials]
        assert all(SENTENCE.startswith(text) for text in texts)
        assert texts == sorted(texts, key=len)
        spoken = [
            text
            for at, text in zip((at for at, _ in partials), texts, strict=True)
            if at < final.end_s
        ]
        assert all(not text.endswith("tomorrow") for text in spoken)  # held for the commit


async def test_a_turn_based_model_with_client_commits_sends_text_only_after_the_turn() -> None:
    """gpt-transcribe with our commits: no partial arrives before its turn was committed."""
    audio = conversation(names=("en_weather",))
    async with FakeRealtimeServer(Scenario(transcribe=say_sentence)) as fake:
        engine = await started_engine(fake, model="gpt-transcribe", openai_turn_detection="client")
        timed = await timed_run(engine, audio, pace_s=0.025)
    [final] = finals([event for _, event in timed])
    assert final.text == SENTENCE
    for pushed, event in timed:
        if isinstance(event, Partial):
            assert pushed >= final.end_s


async def test_a_turn_whose_completion_never_comes_is_closed_and_the_next_goes_on() -> None:
    """The watchdog gives a stalled turn ``final_timeout`` and its partial text; later turns
    still get their finals, in order."""
    tuning = dataclasses.replace(FAST, final_timeout_s=1.0)
    scenario = Scenario(transcribe=say_sentence, stall_turns=frozenset({0}))
    async with FakeRealtimeServer(scenario) as fake:
        engine = await started_engine(fake, tuning, model="gpt-live-transcribe")
        events = await run(engine, conversation(names=("en_fox", "sv_weather")), pace_s=0.02)
    codes = [(e.code, e.segment_id) for e in errors(events)]
    assert codes == [("final_timeout", 0)]
    got = finals(events)
    assert [final.segment_id for final in got] == list(range(len(got)))
    assert SENTENCE.startswith(got[0].text)
    assert got[0].text != SENTENCE
    assert got[-1].text == SENTENCE


async def test_partials_after_a_reconnect_start_afresh_instead_of_repeating() -> None:
    """A drop mid-sentence: the sentence is sent again and its partials restart; no partial
    ever holds the sentence's opening words twice, and the final is whole."""
    scenario = Scenario(transcribe=say_sentence, drop_after_appends=8)
    async with FakeRealtimeServer(scenario) as fake:
        engine = await started_engine(fake, model="gpt-live-transcribe")
        events = await run(engine, conversation(names=("en_weather",)), pace_s=0.01)
    assert len(fake.connections) == 2
    for partial in (e for e in events if isinstance(e, Partial)):
        assert partial.text.count("the weather") <= 1, partial
    assert [final.text for final in finals(events)] == [SENTENCE]
