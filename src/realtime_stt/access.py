"""Who may connect: the Origin rule shared by CORS and ``/ws``, and the optional bearer tokens.

A token travels as ``Authorization: Bearer <token>`` or, where a browser cannot set headers (a
WebSocket), as ``?token=<token>``; the log redaction masks both (see :mod:`realtime_stt.redaction`).

``CORSMiddleware`` only guards HTTP, so ``/ws`` calls :meth:`OriginPolicy.allows` itself. A request
with no ``Origin`` header is not from a browser page and is allowed.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping

from pydantic import SecretStr


class OriginPolicy:
    """Allowed browser origins: an exact list plus one full-match regular expression."""

    def __init__(self, origins: list[str], regex: str) -> None:
        self.origins = [origin.rstrip("/") for origin in origins]
        self.regex = regex
        self._exact = set(self.origins)
        self._pattern = re.compile(regex) if regex else None

    def allows(self, origin: str | None) -> bool:
        """True when ``origin`` is absent (not a browser) or matches the list or the regex."""
        if origin is None:
            return True
        if "*" in self._exact or origin in self._exact:
            return True
        return bool(self._pattern and self._pattern.fullmatch(origin))


def offered_token(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The token a request carries: ``Authorization: Bearer`` wins over ``?token=``."""
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return query.get("token")


def secret_equals(offered: str, expected: SecretStr) -> bool:
    """Constant-time comparison of ``offered`` with ``expected``."""
    return hmac.compare_digest(offered.encode(), expected.get_secret_value().encode())


def token_matches(
    expected: SecretStr | None, headers: Mapping[str, str], query: Mapping[str, str]
) -> bool:
    """True when no token is configured, or ``?token=`` / ``Authorization: Bearer`` carries it."""
    if expected is None:
        return True
    offered = offered_token(headers, query)
    return offered is not None and secret_equals(offered, expected)
