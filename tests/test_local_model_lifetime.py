"""The local model's lifetime is the process's: apps and engines of one configuration share one
loaded model, and closing an engine drops its own references only."""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient

from realtime_stt.app import create_app
from realtime_stt.engine.protocol import SessionConfig
from realtime_stt.local.engine import LocalEngine, ModelOptions, load_whisper
from tests.conftest import make_settings, wait_ready

pytestmark = pytest.mark.model


def test_apps_of_one_configuration_load_the_model_once() -> None:
    """Two apps built from the same settings, one after the other's close: the second finds the
    model already loaded (a cache hit, no load), so tests that build many apps load it once."""
    settings = make_settings()
    with TestClient(create_app(settings)) as first:
        wait_ready(first)
        engine = first.app.state.services.engine  # type: ignore[attr-defined]
        assert isinstance(engine, LocalEngine)
        assert engine.ready
    assert not engine.ready  # the app owned its engine and closed it
    before = load_whisper.cache_info()
    with TestClient(create_app(settings)) as second:
        wait_ready(second)
    after = load_whisper.cache_info()
    assert (after.misses, after.hits) == (before.misses, before.hits + 1)


def test_a_closed_engine_refuses_sessions_and_a_restart_reuses_the_loaded_model() -> None:
    """After ``aclose`` the engine is not ready, knows no languages and opens no session; started
    again, it serves with the model the process kept (no new load)."""
    engine = LocalEngine(model_options=ModelOptions(workers=1, cpu_threads=1))

    async def run() -> None:
        await engine.start()
        engine.decoder("en")
        await engine.aclose()
        assert not engine.ready
        assert engine.supported_languages == frozenset()
        with pytest.raises(RuntimeError, match="not started"):
            async with engine.open_session(SessionConfig("closed", "en")):
                pass
        before = load_whisper.cache_info()
        await engine.start()
        after = load_whisper.cache_info()
        assert engine.ready
        assert "en" in engine.supported_languages
        assert (after.misses, after.hits) == (before.misses, before.hits + 1)
        await engine.aclose()

    asyncio.run(run())
