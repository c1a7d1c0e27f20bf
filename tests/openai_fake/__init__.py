"""A strict fake of the OpenAI Realtime GA transcription API, for the OpenAI engine's tests.

Import :class:`FakeRealtimeServer` and :class:`Scenario`; :mod:`tests.openai_fake.audio` makes
the test tones the fake "transcribes" by pitch, and :func:`sentences` scripts longer texts for
them. :mod:`tests.openai_fake.models` is the fake's table of transcription models;
:mod:`tests.openai_fake.wire` has raw-client helpers for testing the fake itself.
"""

from .scenario import ConnectionRecord, Handshake, Scenario, Turn, sentences
from .server import FakeRealtimeServer

__all__ = ["ConnectionRecord", "FakeRealtimeServer", "Handshake", "Scenario", "Turn", "sentences"]
