"""Secrets out of what the service shows and logs.

:func:`redact_url` masks a URL's user info and its secret-looking query values (``/config`` shows
every URL setting through it); :func:`redact_text` does the same inside free text, and also masks
``Authorization`` values and bearer credentials, wherever they appear in it.
:class:`RedactingFilter` applies :func:`redact_text` to every log record of the loggers that write
URLs or headers (:data:`REDACTED_LOGGERS`, uvicorn's access log among them);
:func:`install_log_redaction` attaches it once per process.

A query value is secret-looking when its key, lower-cased, is one of :data:`SECRET_KEYS` or ends
with one of :data:`SECRET_SUFFIXES` (``api_key``, ``access_token``, ``x-amz-signature``...).
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

MASK = "***"
SECRET_KEYS = frozenset({
    "token", "key", "apikey", "password", "passwd", "pwd", "secret", "signature", "sig", "auth",
    "authorization", "credential", "credentials", "jwt",
})  # fmt: skip
SECRET_SUFFIXES = ("_token", "-token", "_key", "-key", "_secret", "-secret", "_signature",
                   "-signature", "_password", "-password")  # fmt: skip
REDACTED_LOGGERS = (
    "uvicorn.access",
    "uvicorn.error",
    "websockets.client",
    "websockets.server",
    "httpx",
)
"""Loggers whose records are redacted. A logger's filter sees only the records logged to that
logger itself, so each one that writes URLs or headers is named here."""

_QUERY_PAIR = re.compile(r"(?P<key>[A-Za-z0-9_.\-]+)=(?P<value>[^&\s\"'#]*)")
_QUERY = re.compile(r"\?(?P<query>[^\s\"'#]+)")
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/@\s\"']+)@")
_AUTHORIZATION = re.compile(
    r"(?P<name>authorization|proxy-authorization)(?P<sep>[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<value>[^\"'\r\n,}]+)",
    re.IGNORECASE,
)
_HEADER_NAMES = frozenset({"authorization", "proxy-authorization"})
_BEARER = re.compile(r"(?P<scheme>\b(?:bearer|basic)\s+)(?P<value>[A-Za-z0-9._~+/=\-]+)", re.I)


def is_secret_key(key: str) -> bool:
    """Whether a query parameter named ``key`` holds a credential."""
    lowered = key.lower()
    return lowered in SECRET_KEYS or lowered.endswith(SECRET_SUFFIXES)


def redact_url(url: str) -> str:
    """``url`` with its user info's password (or a lone user name, which may be a token) and its
    secret-looking query values shown as ``***``; everything else as given."""
    parts = urlsplit(url)
    if "@" in parts.netloc:
        userinfo, _, hostport = parts.netloc.rpartition("@")
        user, has_password, _ = userinfo.partition(":")
        shown_user = f"{user}:{MASK}" if has_password else MASK
        parts = parts._replace(netloc=f"{shown_user}@{hostport}")
    query = [(k, MASK if is_secret_key(k) else v) for k, v in parse_qsl(parts.query, True)]
    shown = f"{parts.scheme}://{parts.netloc}{parts.path}"
    return shown + (f"?{urlencode(query, safe='*')}" if query else "")


def redact_text(text: str) -> str:
    """``text`` with every secret this module knows how to spot masked: secret-looking query
    values after a ``?``, passwords in URLs' user info, ``Authorization`` header values and
    ``Bearer``/``Basic`` credentials."""
    text = _QUERY.sub(_redact_query, text)
    text = _USERINFO.sub(_redact_userinfo, text)
    text = _AUTHORIZATION.sub(lambda m: f"{m['name']}{m['sep']}{MASK}", text)
    return _BEARER.sub(lambda m: f"{m['scheme']}{MASK}", text)


def _redact_query(match: re.Match[str]) -> str:
    def pair(found: re.Match[str]) -> str:
        secret = is_secret_key(found["key"])
        return f"{found['key']}={MASK if secret else found['value']}"

    return "?" + _QUERY_PAIR.sub(pair, match["query"])


def _redact_userinfo(match: re.Match[str]) -> str:
    user, has_password, _ = match["userinfo"].partition(":")
    return f"{match['scheme']}{user}:{MASK}@" if has_password else f"{match['scheme']}{MASK}@"


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's message and in each of its string arguments; keeps the
    arguments' shape (uvicorn's access formatter unpacks them by position). An argument that
    follows one naming an ``Authorization`` header (``"> %s: %s"``) is masked whole."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place; never drops it."""
        if isinstance(record.msg, str):
            record.msg = redact_text(record.msg)
        if isinstance(record.args, tuple):
            args = [_redact_arg(arg) for arg in record.args]
            for index, arg in enumerate(args[:-1]):
                if isinstance(arg, str) and arg.lower() in _HEADER_NAMES:
                    args[index + 1] = MASK
            record.args = tuple(args)
        elif isinstance(record.args, dict):
            record.args = {key: _redact_arg(value) for key, value in record.args.items()}
        return True


def _redact_arg(arg: Any) -> Any:
    return redact_text(arg) if isinstance(arg, str) else arg


def install_log_redaction() -> None:
    """Attach one :class:`RedactingFilter` to each of :data:`REDACTED_LOGGERS` (idempotent)."""
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
