"""The scaffolding every engine session shares (``engine.running``, ``engine.sink``), on a minimal
session of its own: what a third engine gets for free."""

from __future__ import annotations

from typing import Literal

import anyio
import anyio.lowlevel
import pytest

from realtime_stt.engine.protocol import EngineError, EngineEvent, Final, Partial, SpeechStarted
from realtime_stt.engine.running import BaseSession, FatalError
from realtime_stt.engine.sink import EventSink


class _Session(BaseSession):
    """Emits ``script``, then ends as ``ending`` says: return, wait forever, or raise it."""

    def __init__(
        self, script: list[EngineEvent], ending: Literal["return", "block"] | Exception = "return"
    ) -> None:
        super().__init__(sample_rate=16_000, event_buffer=8)
        self.script = script
        self.ending = ending
        self.blocked = False
        self.wound_up: list[list[EngineError]] = []
        self.released = 0

    def push_audio(self, pcm: bytes) -> None:
        self._sink.pushed += len(pcm) // 2

    async def _drive(self) -> None:
        await self._sink.emit_all(self.script)
        if isinstance(self.ending, Exception):
            raise self.ending
        if self.ending == "block":
            self.blocked = True
            await anyio.sleep_forever()

    async def _wind_up(self, errors: list[EngineError]) -> None:
        self.wound_up.append(errors)
        await super()._wind_up(errors)

    def _release(self) -> None:
        self.released += 1


async def _events(session: _Session) -> list[EngineEvent]:
    async with session.running():
        return [event async for event in session]


class TestBaseSession:
    @pytest.mark.anyio
    async def test_a_drive_that_returns_ends_the_stream_after_its_events(self) -> None:
        """The events come out in order, and the iteration stops when ``_drive`` returns."""
        session = _Session([SpeechStarted(0, 0.0), Final(0, "hi", 0.0, 0.5)])
        session.push_audio(bytes(32_000))
        assert await _events(session) == session.script
        assert session.wound_up == [[]]
        assert session.released == 1

    @pytest.mark.anyio
    async def test_a_fatal_error_goes_out_last(self) -> None:
        """``FatalError`` reaches ``_wind_up`` and then the client, as the last event."""
        error = EngineError("engine_overloaded", "too fast", fatal=True)
        session = _Session([SpeechStarted(0, 0.0)], FatalError(error))
        assert await _events(session) == [SpeechStarted(0, 0.0), error]
        assert session.wound_up == [[error]]

    @pytest.mark.anyio
    async def test_an_unexpected_exception_is_an_engine_failure(self) -> None:
        """Any other exception ends the session with a fatal ``engine_failure`` naming it."""
        session = _Session([], ValueError("broken decoder"))
        events = await _events(session)
        assert events == [EngineError("engine_failure", "broken decoder", fatal=True)]

    @pytest.mark.anyio
    async def test_leaving_running_cancels_winds_up_and_releases(self) -> None:
        """Leaving the context mid-drive cancels it; ``_wind_up`` still runs (with no error),
        the stream stops and ``_release`` is called once."""
        session = _Session([SpeechStarted(0, 0.0)], "block")
        async with session.running():
            iterator = session.__aiter__()
            assert await iterator.__anext__() == SpeechStarted(0, 0.0)
            while not session.blocked:
                await anyio.lowlevel.checkpoint()
        assert session.wound_up == [[]]
        assert session.released == 1
        assert [event async for event in iterator] == []

    @pytest.mark.anyio
    async def test_wait_for_room_follows_the_room_event(self) -> None:
        """``wait_for_room`` returns at once while there is room, and waits while there is not."""
        session = _Session([])
        await session.wait_for_room()
        session._room.clear()
        passed = anyio.Event()

        async def writer() -> None:
            await session.wait_for_room()
            passed.set()

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(writer)
            for _ in range(10):
                await anyio.lowlevel.checkpoint()
            assert not passed.is_set()
            session._room.set()
            await passed.wait()

    @pytest.mark.anyio
    async def test_tasks_outside_running_are_refused(self) -> None:
        """The session's task group exists only inside ``running()``."""
        session = _Session([])
        with pytest.raises(RuntimeError, match="not running"):
            _ = session._group


class TestEventSink:
    @pytest.mark.anyio
    async def test_partials_are_dropped_when_full_and_times_clamped(self) -> None:
        """A full buffer drops partials, never finals; times never pass the pushed audio."""
        sink = EventSink(1, 24_000)
        sink.pushed = 24_000
        await sink.emit(Partial(0, "a", 0.0, 0.5))
        await sink.emit(Partial(0, "ab", 0.0, 0.6))
        received = []
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(sink.emit, Final(0, "abc", 0.5, 1.5))
            iterator = sink.__aiter__()
            received.append(await iterator.__anext__())
            received.append(await iterator.__anext__())
        sink.close()
        assert received == [Partial(0, "a", 0.0, 0.5), Final(0, "abc", 0.5, 1.0)]

    @pytest.mark.anyio
    async def test_times_count_in_the_sinks_rate(self) -> None:
        """``pushed`` counts samples at the rate the sink was made with (16 kHz here)."""
        sink = EventSink(4, 16_000)
        sink.pushed = 8_000
        await sink.emit(SpeechStarted(0, 0.9))
        await sink.emit(Final(0, "x", 0.2, 0.4))
        sink.end()
        assert [event async for event in sink] == [SpeechStarted(0, 0.5), Final(0, "x", 0.2, 0.4)]


@pytest.fixture
def anyio_backend() -> str:
    """Run the async tests here on asyncio."""
    return "asyncio"
