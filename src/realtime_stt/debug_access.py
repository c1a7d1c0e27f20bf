"""Who may read the ``/debug/*`` buffers, which hold every session's transcripts.

``DEBUG_ENDPOINTS`` chooses, and :func:`debug_mode` turns the choice into one of four modes:

- ``open``: anyone (``DEBUG_ENDPOINTS=open``, or ``auto`` while the server listens on a loopback
  address only, so nobody but this machine can reach it);
- ``token``: ``DEBUG_TOKEN`` is required (``DEBUG_ENDPOINTS=token``, or ``auto`` on another
  address with ``DEBUG_TOKEN`` set);
- ``locked``: ``auto`` on a non-loopback address without ``DEBUG_TOKEN``: every read is refused;
- ``off``: ``DEBUG_ENDPOINTS=off``: every read is refused.

The bind address (``HOST``) decides, never the client's address: behind a proxy every client
would look local. A ``DEBUG_TOKEN`` that is set is required in every mode. A refusal is HTTP 403
(401 for a missing or wrong token) with a JSON ``detail`` of ``code`` and a ``message`` that says
how to enable the endpoints.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from realtime_stt.access import token_matches
from realtime_stt.settings import Settings

Mode = Literal["open", "token", "locked", "off"]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a debug read is refused: the HTTP status and the JSON detail."""

    status: int
    code: str
    message: str


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a bind address) is reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost: assume it is reachable from outside


def debug_mode(settings: Settings) -> Mode:
    """The effective mode for ``settings`` (see the module docstring)."""
    choice = settings.debug_endpoints
    if choice == "auto":
        if settings.debug_token is not None:
            return "token"
        return "open" if is_loopback(settings.host) else "locked"
    if choice == "open" and settings.debug_token is not None:
        return "token"
    return choice


def describe(settings: Settings) -> str:
    """One line for the start-up log naming the mode and why."""
    mode = debug_mode(settings)
    where = f"HOST={settings.host}"
    reasons: dict[Mode, str] = {
        "open": f"anyone who can reach {where} may read them",
        "token": "DEBUG_TOKEN required",
        "locked": f"refused: {where} is not loopback and DEBUG_TOKEN is not set",
        "off": "refused",
    }
    return f"debug endpoints: {mode} (DEBUG_ENDPOINTS={settings.debug_endpoints}; {reasons[mode]})"


def check(
    settings: Settings, headers: Mapping[str, str], query: Mapping[str, str]
) -> Refusal | None:
    """``None`` when this request may read the debug buffers, else why not."""
    mode = debug_mode(settings)
    if mode == "off":
        message = "debug endpoints are off; set DEBUG_ENDPOINTS=auto, token or open to enable them"
        return Refusal(403, "debug_endpoints_off", message)
    if mode == "locked":
        message = (
            f"debug endpoints need DEBUG_TOKEN because the server listens on {settings.host}, "
            "not only on loopback: set DEBUG_TOKEN and send it as ?token= or "
            "'Authorization: Bearer', or set DEBUG_ENDPOINTS=open to publish them to anyone"
        )
        return Refusal(403, "debug_token_not_configured", message)
    if mode == "token" and not token_matches(settings.debug_token, headers, query):
        message = "send DEBUG_TOKEN as ?token= or 'Authorization: Bearer'"
        return Refusal(401, "debug_token_required", message)
    return None
