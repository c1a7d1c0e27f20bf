"""Who may connect: the Origin rule shared by CORS and ``/ws``, and the optional bearer tokens.

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


def token_matches(
    expected: SecretStr | None, headers: Mapping[str, str], query: Mapping[str, str]
) -> bool:
    """True when no token is configured, or ``?token=`` / ``Authorization: Bearer`` carries it."""
    if expected is None:
        return True
    secret = expected.get_secret_value().encode()
    offered = query.get("token")
    authorization = headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials:
        offered = credentials.strip()
    return offered is not None and hmac.compare_digest(offered.encode(), secret)
