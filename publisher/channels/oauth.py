"""OAuth 2 client calls shared by the adapters that connect by signing in at the network
(Mastodon, X, Meta): PKCE (RFC 7636, S256), the token endpoint (RFC 6749 §4.1.3, §6),
revocation (RFC 7009). Network calls only, through http.py (the outgoing-request policy
applies to every one); the state, the session and what is stored live in workflow/oauth.py.

A token endpoint's refusal (invalid_grant: a code used twice, a verifier that does not
match, a revoked or expired grant) is an AuthError carrying the server's own words, never
a token: a refresh refused that way holds the channel for reconnection.
"""

from __future__ import annotations

import base64
import hashlib
import secrets as random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.utils import timezone
from django.utils.translation import gettext_noop

from publisher.channels.base import AuthError, ChannelError, PermanentError, TransientError
from publisher.channels.http import HttpSession, error_text, from_response


def pkce_verifier() -> str:
    # 64 url-safe characters from 48 random bytes: within RFC 7636's 43–128.
    return random.token_urlsafe(48)


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def oauth_state() -> str:
    return random.token_urlsafe(32)


@dataclass(frozen=True)
class TokenSet:
    """A token endpoint's answer: the access token and, where the server gives them, a
    refresh token and when the access ends."""

    access: str = field(repr=False)
    refresh: str = field(default="", repr=False)
    expires_at: datetime | None = None
    scope: str = ""


def token_error(response: httpx.Response, *secrets: str) -> ChannelError:
    """RFC 6749 §5.2: 400/401 with {"error", "error_description"} is a refusal of the grant
    or of the client (AuthError); 5xx and 429 are worth another try."""
    if response.status_code in (400, 401, 403):
        try:
            body = response.json()
        except ValueError:
            body = {}
        error = body.get("error") if isinstance(body, dict) else None
        description = body.get("error_description") if isinstance(body, dict) else None
        if isinstance(error, str) and isinstance(description, str):
            text = f"{error}: {description}"
        else:
            text = error_text(response, *secrets)
        return AuthError(from_response(response, message=text, secrets=secrets).message, status=response.status_code)
    return from_response(response, secrets=secrets)


def token_set(body: Any, *, now: datetime | None = None) -> TokenSet:
    if not isinstance(body, Mapping) or not isinstance(body.get("access_token"), str) or not body["access_token"]:
        raise PermanentError(gettext_noop("The token endpoint answered without an access token."))
    expires_in = body.get("expires_in")
    expires_at = None
    if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) and expires_in > 0:
        expires_at = (now or timezone.now()) + timedelta(seconds=float(expires_in))
    refresh = body.get("refresh_token")
    scope = body.get("scope")
    return TokenSet(
        access=body["access_token"],
        refresh=refresh if isinstance(refresh, str) else "",
        expires_at=expires_at,
        scope=scope if isinstance(scope, str) else "",
    )


def token_request(
    url: str,
    data: Mapping[str, str],
    *,
    config: Mapping[str, Any] | None = None,
    basic: tuple[str, str] | None = None,
    secrets: tuple[str, ...] = (),
) -> TokenSet:
    """POST the token endpoint (form-encoded) and read the tokens it answers."""
    hidden = tuple(secrets) + tuple(v for k, v in data.items() if k in ("code", "code_verifier", "refresh_token"))
    hidden += (data.get("client_secret", ""),) + ((basic[1],) if basic else ())
    with HttpSession(
        config=dict(config or {}), secrets=hidden, to_error=lambda response: token_error(response, *hidden)
    ) as http:
        response = http.request(
            "POST", url, data=dict(data), auth=httpx.BasicAuth(*basic) if basic else None, headers=_accept_json()
        )
        try:
            body = response.json()
        except ValueError:
            raise TransientError(gettext_noop("The token endpoint did not answer JSON.")) from None
    return token_set(body)


def json_request(
    method: str,
    url: str,
    *,
    config: Mapping[str, Any] | None = None,
    secrets: tuple[str, ...] = (),
    bearer: str = "",
    to_error: Any = None,
    **kwargs: Any,
) -> Any:
    """One JSON call (app registration, the signed-in account, Graph reads)."""
    headers = _accept_json()
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    hidden = tuple(secrets) + ((bearer,) if bearer else ())
    with HttpSession(config=dict(config or {}), secrets=hidden, to_error=to_error) as http:
        response = http.request(method, url, headers=headers, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise TransientError(gettext_noop("The server did not answer JSON.")) from None


def _accept_json() -> dict[str, str]:
    return {"Accept": "application/json"}
