"""The one HTTP client every adapter uses: timeouts, no redirects, typed errors.

Transport failures and HTTP answers become the typed errors of base.py here, so the
publish task decides retries from one vocabulary:

- could not connect (nothing was sent) → TransientError;
- timed out or dropped after sending a request that creates a post → UnknownOutcome
  (the post may exist: do not blindly repost), unless the network de-duplicates it;
- 401 / 403 → AuthError; 429 → RateLimited with retry_after; 410 → Gone;
  408, 5xx → TransientError; any other 4xx → PermanentError.
"""

from __future__ import annotations

import functools
import json
import ssl
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from django.conf import settings

from publisher.channels.base import (
    AuthError,
    ChannelError,
    Gone,
    PermanentError,
    RateLimited,
    TransientError,
    UnknownOutcome,
)
from publisher.channels.netpolicy import PolicyTransport
from publisher.channels.secrets import redact

USER_AGENT = "Tandem/1.0 (bilingual public-safety publishing)"
# A network's error wording is kept to this many characters: enough to act on, too short
# to relay an internal page through a delivery's error.
EXCERPT_MAX = 300


def excerpt(text: str, limit: int = EXCERPT_MAX) -> str:
    """`text` on one line, cut to `limit` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def timeouts(config: dict[str, Any] | None = None) -> httpx.Timeout:
    """Connect fast or give up; wait longer for an answer (uploads). A channel may override."""
    config = config or {}
    read = float(config.get("timeout", getattr(settings, "TANDEM_CHANNEL_TIMEOUT", 30.0)))
    connect = float(config.get("connect_timeout", getattr(settings, "TANDEM_CHANNEL_CONNECT_TIMEOUT", 5.0)))
    return httpx.Timeout(read, connect=connect, pool=connect)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def parse_reset(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds until a rate-limit reset given as epoch seconds (X, Bluesky) or ISO 8601 (Mastodon)."""
    if not value:
        return None
    current = now if now is not None else time.time()
    try:
        return max(0.0, float(value) - current)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - current)


def error_text(response: httpx.Response, *secrets: str) -> str:
    """The network's own wording of the error, from the usual JSON shapes or the raw body:
    secrets redacted (before cutting, so no part of one is left), cut to a short excerpt."""
    return excerpt(redact(_error_text(response), *secrets))


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        for key in ("message", "description", "detail", "error_description", "title"):
            if body.get(key):
                if key == "message" and isinstance(error, str):
                    return f"{error}: {body[key]}"
                return str(body[key])
        if isinstance(error, str) and error:
            return error
    text = response.text[: 10 * EXCERPT_MAX].strip()
    return text or response.reason_phrase or f"HTTP {response.status_code}"


def from_response(
    response: httpx.Response,
    *,
    message: str | None = None,
    retry_after: float | None = None,
    secrets: Iterable[str] = (),
) -> ChannelError:
    """The typed error for a non-2xx answer, carrying the status and the network's message."""
    status = response.status_code
    text = excerpt(redact(message if message is not None else _error_text(response), *secrets))
    text = f"HTTP {status}: {text}"
    if retry_after is None:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
    if status == 429:
        return RateLimited(text, status=status, retry_after=retry_after)
    if status in (401, 403):
        return AuthError(text, status=status)
    if status == 410:
        return Gone(text, status=status)
    if status == 408 or status >= 500:
        return TransientError(text, status=status, retry_after=retry_after)
    if 300 <= status < 400:
        # Never follow redirects with a token; a moved endpoint is a configuration error.
        location = excerpt(response.headers.get("location", ""), 200)
        return PermanentError(redact(f"HTTP {status}: redirected to {location}", *secrets), status=status)
    return PermanentError(text, status=status)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle costs ~15-30 ms; a fresh one per client would add that to every
    # post of an urgent fan-out. One verified context, shared (SSLContext is thread-safe).
    return httpx.create_ssl_context()


def warm_up() -> None:
    """Build the shared TLS context now: a cluster does it before forking its workers, so
    the first burst after a start does not build it in every one of its threads at once
    (measured: 1 to 2 s late on a busy machine)."""
    _tls_context()


class HttpSession:
    """An httpx client bound to one channel: its timeouts, its secrets to keep out of errors,
    and the network's way of turning an answer into a typed error."""

    def __init__(
        self,
        *,
        config: dict[str, Any] | None = None,
        secrets: Iterable[str] = (),
        to_error: Callable[[httpx.Response], ChannelError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.secrets = tuple(s for s in secrets if s)
        self._to_error = to_error
        self.client = httpx.Client(
            # Every connection obeys the outgoing-request policy (netpolicy.py). An explicit
            # transport also keeps HTTP(S)_PROXY and .netrc from the environment out of it.
            transport=PolicyTransport(verify=_tls_context()),
            timeout=timeouts(config),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT, **(headers or {})},
        )

    def __enter__(self) -> HttpSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def close(self) -> None:
        self.client.close()

    def error_for(self, response: httpx.Response) -> ChannelError:
        if self._to_error is not None:
            return self._to_error(response)
        return from_response(response, secrets=self.secrets)

    def request(
        self,
        method: str,
        url: str,
        *,
        creates_post: bool = False,
        deduplicated: bool = False,
        check: bool = True,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request. `creates_post`: a timeout after sending leaves the outcome unknown,
        unless the network `deduplicated` it (idempotency key, fixed record key)."""
        try:
            response = self.client.request(method, url, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TransientError(self._describe(exc, "could not connect")) from exc
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            what = self._describe(exc, "no answer after sending")
            if creates_post and not deduplicated:
                raise UnknownOutcome(what) from exc
            raise TransientError(what) from exc
        if check and not response.is_success:
            raise self.error_for(response)
        return response

    def _describe(self, exc: Exception, what: str) -> str:
        # httpx messages may quote the URL, and Telegram's URL holds the token.
        return redact(f"{what} ({type(exc).__name__}: {exc})", *self.secrets)
