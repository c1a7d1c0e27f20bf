"""Short-lived browser tokens for ``/ws``, minted by ``POST /v1/tokens`` for a holder of API_TOKEN.

A page cannot keep ``API_TOKEN`` secret, so the app's own backend (a Supabase edge function, for
example) asks this service for a token that opens ``/ws`` for a short time and hands that to the
page. The format is ``stt1.<payload>.<signature>``: the payload is base64url JSON with ``exp``
(Unix seconds) and, for a single-use token, a random ``jti``; the signature is HMAC-SHA256 over
``stt1.<payload>`` with a key derived from ``API_TOKEN``. Every instance that shares
``API_TOKEN`` therefore accepts the tokens any of them minted; changing ``API_TOKEN`` revokes them.

A single-use token is consumed by the first handshake that presents it, in the instance that
receives it (the used ``jti`` values are kept in memory until they expire): behind several
instances it could open at most one session per instance within its short life.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from pydantic import BaseModel, Field, SecretStr

from realtime_stt.access import token_matches
from realtime_stt.services import Services

PREFIX = "stt1"
DEFAULT_EXPIRES_S = 60
MAX_EXPIRES_S = 600
"""The longest life a token may be given; a longer request is cut to this."""
_KEY_LABEL = b"realtime-stt browser token v1"


@dataclass(frozen=True, slots=True)
class Minted:
    """A new token, when it expires (Unix seconds), and for how many seconds it is valid."""

    token: str
    expires_at: int
    expires_in_seconds: int


class BrowserTokens:
    """Mints and verifies tokens signed with a key derived from ``api_token``."""

    def __init__(self, api_token: SecretStr, clock: Callable[[], float] = time.time) -> None:
        secret = api_token.get_secret_value().encode()
        self._key = hmac.new(secret, _KEY_LABEL, hashlib.sha256).digest()
        self._clock = clock
        self._used: dict[str, int] = {}

    def mint(self, expires_in_seconds: int, *, single_use: bool = False) -> Minted:
        """A token valid for ``expires_in_seconds`` (cut to :data:`MAX_EXPIRES_S`)."""
        life = max(1, min(expires_in_seconds, MAX_EXPIRES_S))
        expires_at = int(self._clock()) + life
        claims: dict[str, Any] = {"exp": expires_at}
        if single_use:
            claims["jti"] = secrets.token_hex(12)
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return Minted(f"{PREFIX}.{payload}.{self._sign(payload)}", expires_at, life)

    def verify(self, token: str) -> bool:
        """Whether ``token`` is one of ours, unexpired, and (if single-use) not used before; a
        single-use token is consumed by the call that returns ``True`` for it."""
        prefix, _, rest = token.partition(".")
        payload, _, signature = rest.partition(".")
        if prefix != PREFIX or not hmac.compare_digest(signature, self._sign(payload)):
            return False
        try:
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (binascii.Error, ValueError):
            return False
        now = self._clock()
        expires_at = claims.get("exp") if isinstance(claims, dict) else None
        if not isinstance(expires_at, int) or expires_at <= now:
            return False
        jti = claims.get("jti")
        if jti is None:
            return True
        self._used = {key: exp for key, exp in self._used.items() if exp > now}
        if jti in self._used:
            return False
        self._used[str(jti)] = expires_at
        return True

    def _sign(self, payload: str) -> str:
        digest = hmac.new(self._key, f"{PREFIX}.{payload}".encode(), hashlib.sha256).digest()
        return _b64(digest)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenRequest(BaseModel):
    """The body of ``POST /v1/tokens`` (every field optional)."""

    expires_in_seconds: int = Field(DEFAULT_EXPIRES_S, ge=1)
    single_use: bool = False


class TokenResponse(BaseModel):
    """A minted token and its life."""

    token: str
    expires_in_seconds: int
    expires_at: int
    single_use: bool


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


router = APIRouter()


@router.post("/v1/tokens")
def mint_token(
    request: Request,
    services: Annotated[Services, Depends(_services)],
    body: Annotated[TokenRequest | None, Body()] = None,
) -> TokenResponse:
    """Mint a browser token for ``/ws``; needs ``API_TOKEN`` as ``Authorization: Bearer``.

    409 when ``API_TOKEN`` is not set (``/ws`` is open and needs no token), 401 for a missing or
    wrong ``API_TOKEN``. A browser token never mints another.
    """
    tokens = services.browser_tokens
    if tokens is None:
        detail = {"code": "api_token_not_set", "message": "API_TOKEN is not set: /ws is open"}
        raise HTTPException(status_code=409, detail=detail)
    if not token_matches(services.settings.api_token, request.headers, {}):
        message = "send API_TOKEN as 'Authorization: Bearer'"
        raise HTTPException(
            status_code=401, detail={"code": "api_token_required", "message": message}
        )
    wanted = body or TokenRequest()
    minted = tokens.mint(wanted.expires_in_seconds, single_use=wanted.single_use)
    return TokenResponse(
        token=minted.token,
        expires_in_seconds=minted.expires_in_seconds,
        expires_at=minted.expires_at,
        single_use=wanted.single_use,
    )
