"""The OpenAI Realtime engine (GA transcription sessions); see :mod:`.engine` for the contract.

Engine error codes (``EngineError.code``):

* ``upstream_auth_failed`` (fatal): the handshake got HTTP 401/403, or upstream answered the
  configuration with ``invalid_api_key``.
* ``upstream_unavailable`` (fatal): no configured connection after ``Tuning.max_attempts`` tries
  (5xx, timeouts, refused TCP, a stalled server), another 4xx, or too many drops in a row.
* ``upstream_closed`` (fatal): upstream closed with a code that is not retried (1000, 1008,
  4000, ...).
* ``upstream_error:<code>``: an upstream ``error`` event, ``<code>`` being upstream's code (or its
  ``type`` when it has none); fatal only when it answers the initial ``session.update``.
* ``transcription_failed``: upstream could not transcribe one utterance; an empty final follows.
* ``upstream_lost``: a connection died owing an utterance that could not be resent; its final
  (partial text so far) follows.
* ``final_timeout``: finals still missing ``Tuning.final_timeout_s`` after ``end_input``; finals
  with the partial text follow for each outstanding segment.
* ``engine_overloaded`` (fatal): more than ``Tuning.max_backlog_s`` of audio queued unsent.
* ``engine_failure`` (fatal): an unexpected exception inside the session.
"""

from realtime_stt.engine.registry import EngineSpec
from realtime_stt.openai_engine.engine import OpenAIEngine
from realtime_stt.openai_engine.session import OpenAISession
from realtime_stt.openai_engine.tuning import Tuning

__all__ = ["OpenAIEngine", "OpenAISession", "Tuning"]

ENGINE = EngineSpec(build=OpenAIEngine)
"""The OpenAI engine's registration (the ``openai`` entry point); the core install has all it
needs."""
