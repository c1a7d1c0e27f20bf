"""Per-model checks of a transcription ``session.update``, on the configuration it would produce.

:func:`check_update` takes the current ``audio.input`` and the update's, and returns the
:class:`~tests.openai_fake.validation.Problem` upstream reports, or ``None`` if the update may be
applied. A refused update is refused as a whole (nothing of it is applied). Rules, first match
wins, every refusal ``invalid_value`` unless noted:

* ``format`` other than ``audio/pcm``: the fake serves only PCM
  (param ``session.audio.input.format``).
* a ``transcription`` without ``model``: ``missing_required_parameter`` (param
  ``session.audio.input.transcription.model``); the strict reading, as the fake cannot guess one.
* a model outside ``Scenario.models`` (when set) or outside the fake's table
  (:mod:`tests.openai_fake.models`): ``Invalid value: '<model>'. Unsupported transcription
  model.`` (param ``session.audio.input.transcription.model``).
* a streaming model whose *effective* ``turn_detection`` is not ``null``: ``Turn detection is not
  supported for this transcription model.`` (param ``session.audio.input.turn_detection``). The
  session starts with server VAD, so an update that does not send ``"turn_detection": null``
  explicitly is refused; an absent field keeps the current value, an explicit ``null`` clears it.
* a field the model does not take (``prompt``, ``keywords``, ``languages``, ``delay``):
  ``'<field>' is not supported for transcription model '<model>'.`` (param
  ``session.audio.input.transcription.<field>``).
* ``language`` and ``languages`` together: ``Provide either 'language' or 'languages', not
  both.`` (param ``...transcription.languages``).
* a keyword containing ``<``, ``>``, CR or LF: ``Invalid keyword '<keyword>': keywords must not
  contain '<', '>', carriage returns or line feeds.`` (param ``...transcription.keywords``).
* a ``language`` or an entry of ``languages`` that is not two lowercase letters (ISO-639-1):
  ``Invalid value: '<code>'. Expected an ISO-639-1 language code.`` (param
  ``...transcription.language`` or ``...transcription.languages``).

The ``transcription`` object of an update replaces the current one as a whole (its omitted fields
are unset, not kept): the strict reading of a partial update, and what the checks assume.
"""

from __future__ import annotations

import re

from openai.types.realtime import AudioTranscription, RealtimeTranscriptionSessionAudioInput
from openai.types.realtime.realtime_audio_formats import AudioPCM

from .models import MODELS, OPTIONAL_FIELDS, FakeModel
from .validation import Problem

TRANSCRIPTION = "session.audio.input.transcription"
TURN_DETECTION = "session.audio.input.turn_detection"
TURN_DETECTION_MESSAGE = "Turn detection is not supported for this transcription model."
FORBIDDEN_IN_KEYWORDS = re.compile(r"[<>\r\n]")
ISO_639_1 = re.compile(r"[a-z]{2}")


def check_update(
    current: RealtimeTranscriptionSessionAudioInput,
    update: RealtimeTranscriptionSessionAudioInput,
    *,
    allowed: frozenset[str] | None = None,
    event_id: str | None = None,
) -> Problem | None:
    """Why ``update`` (an ``audio.input``) may not be applied to ``current``, or ``None``.

    ``allowed`` is ``Scenario.models``; ``event_id`` (the client event's) goes into the problem.
    """
    given = update.model_fields_set
    if update.format is not None and not isinstance(update.format, AudioPCM):
        message = "The fake server supports only audio/pcm input."
        return Problem("invalid_value", message, "session.audio.input.format", event_id)
    transcription = update.transcription if "transcription" in given else current.transcription
    if transcription is None:
        return None
    name = transcription.model
    if name is None:
        message = f"Missing required parameter: '{TRANSCRIPTION}.model'."
        return Problem("missing_required_parameter", message, f"{TRANSCRIPTION}.model", event_id)
    model = MODELS.get(name)
    if model is None or (allowed is not None and name not in allowed):
        message = f"Invalid value: '{name}'. Unsupported transcription model."
        return Problem("invalid_value", message, f"{TRANSCRIPTION}.model", event_id)
    detection = update.turn_detection if "turn_detection" in given else current.turn_detection
    if model.streaming and detection is not None:
        return Problem("invalid_value", TURN_DETECTION_MESSAGE, TURN_DETECTION, event_id)
    problem = _field_problem(model, transcription)
    if problem is None:
        return None
    field, message = problem
    return Problem("invalid_value", message, f"{TRANSCRIPTION}.{field}", event_id)


def _field_problem(model: FakeModel, transcription: AudioTranscription) -> tuple[str, str] | None:
    """(field, message) of the first field of ``transcription`` that ``model`` refuses."""
    for field in OPTIONAL_FIELDS:
        if getattr(transcription, field) is not None and not model.supports(field):
            return field, f"'{field}' is not supported for transcription model '{model.name}'."
    if transcription.language is not None and transcription.languages is not None:
        return "languages", "Provide either 'language' or 'languages', not both."
    for keyword in transcription.keywords or []:
        if FORBIDDEN_IN_KEYWORDS.search(keyword):
            message = (
                f"Invalid keyword {keyword!r}: keywords must not contain '<', '>', "
                "carriage returns or line feeds."
            )
            return "keywords", message
    codes = [("language", transcription.language)] if transcription.language is not None else []
    codes += [("languages", code) for code in transcription.languages or []]
    for field, code in codes:
        if not ISO_639_1.fullmatch(code):
            return field, f"Invalid value: '{code}'. Expected an ISO-639-1 language code."
    return None
