"""Which ``?language=`` codes a session may ask for, checked before the session is accepted.

An engine that knows its languages declares them as a ``supported_languages`` attribute (the
local engine: its Whisper model's, once loaded, which is only ``en`` for an English-only
model). Any other engine (OpenAI) is given the ISO 639-1 codes, :data:`ISO_639_1`, so a code
such as ``xx`` or ``swe`` is refused here instead of failing upstream.
"""

from __future__ import annotations

from collections.abc import Collection

ISO_639_1 = frozenset(
    """
    aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv cy
    da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht
    hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky
    la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny
    oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss
    st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo
    za zh zu
    """.split()  # noqa: SIM905 - 183 codes read better as words than as a list literal
)
"""The two-letter codes of ISO 639-1."""


def supported_languages(engine: object) -> frozenset[str]:
    """The codes ``engine`` accepts: its declared ``supported_languages``, else ISO 639-1."""
    declared: Collection[str] | None = getattr(engine, "supported_languages", None)
    return ISO_639_1 if declared is None else frozenset(declared)
