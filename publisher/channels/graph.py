"""Errors of Meta's Graph API, shared by the Facebook and Instagram adapters (which stay
independent of each other)."""

from __future__ import annotations

import json

import httpx

from publisher.channels.base import AuthError, ChannelError, PermanentError, RateLimited, TransientError
from publisher.channels.http import error_text, excerpt, parse_retry_after
from publisher.channels.secrets import redact

RATE_LIMIT_CODES = {4, 17, 32, 613, 80001, 80002, 80005}
AUTH_CODES = {102, 190, 10, 200}


def graph_error(response: httpx.Response, *secrets: str) -> ChannelError:
    """The typed error for a Graph API answer (Facebook and Instagram share it)."""
    try:
        error = response.json().get("error", {})
    except (ValueError, AttributeError):
        error = {}
    code = int(error.get("code") or 0)
    subcode = error.get("error_subcode")
    message = excerpt(redact(str(error["message"]), *secrets)) if error.get("message") else ""
    # The Marketing API's validation errors say little in `message` ("Invalid parameter"):
    # the words meant for a person are in `error_user_title`/`error_user_msg` (Graph API,
    # "Handling Errors").
    user_words = " ".join(
        str(error[name]).strip() for name in ("error_user_title", "error_user_msg") if error.get(name)
    )
    if user_words and user_words not in message:
        message = f"{message} — {excerpt(redact(user_words, *secrets))}" if message else excerpt(user_words)
    text = f"HTTP {response.status_code}: {message or error_text(response, *secrets)}"
    if code:
        text += f" (code {code}{f'/{subcode}' if subcode else ''})"
    text = redact(text, *secrets)
    if code in RATE_LIMIT_CODES or response.status_code == 429:
        return RateLimited(text, status=response.status_code, retry_after=_usage_wait(response))
    if code in AUTH_CODES or response.status_code == 401:
        return AuthError(text, status=response.status_code)
    if code in (1, 2) or error.get("is_transient") or response.status_code >= 500:
        return TransientError(
            text, status=response.status_code, retry_after=parse_retry_after(response.headers.get("retry-after"))
        )
    return PermanentError(text, status=response.status_code)


def _usage_wait(response: httpx.Response) -> float | None:
    """Seconds until access returns, from X-Business-Use-Case-Usage (given in minutes)."""
    header = response.headers.get("x-business-use-case-usage")
    if not header:
        return None
    try:
        usage = json.loads(header)
    except ValueError:
        return None
    minutes = [
        float(entry.get("estimated_time_to_regain_access", 0))
        for entries in usage.values()
        if isinstance(entries, list)
        for entry in entries
        if isinstance(entry, dict)
    ]
    return max(minutes) * 60 if minutes else None
