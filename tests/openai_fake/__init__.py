"""A strict fake of the OpenAI Realtime GA transcription API, for the OpenAI engine's tests.

Import :class:`FakeRealtimeServer` and :class:`Scenario`; :mod:`tests.openai_fake.audio` makes
the test tones the fake "transcribes" by pitch.
"""

from .scenario import ConnectionRecord, Handshake, Scenario, Turn
from .server import FakeRealtimeServer

__all__ = ["ConnectionRecord", "FakeRealtimeServer", "Handshake", "Scenario", "Turn"]
