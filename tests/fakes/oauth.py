"""An OAuth 2 authorization server inside a fake network (RFC 6749 authorization code,
RFC 7636 PKCE, RFC 7009 revocation), as Mastodon (Doorkeeper) and X run it.

- authorize (GET): checks client_id, that redirect_uri is one the client registered, the
  scopes, a PKCE challenge (S256 only where `pkce_required`), and answers an HTML consent
  page with "Authorize" and "Deny" buttons; the form posts back to the same path and the
  server answers 302 to redirect_uri with ?code&state, or ?error=access_denied&state.
- token (POST): grant_type authorization_code (a code is single-use, expires after
  `code_lifetime`, must come with the same redirect_uri, the client's credentials and the
  verifier whose SHA-256 is the challenge) or refresh_token (single-use where
  `refresh_single_use`, X's rule); errors are RFC 6749 §5.2 JSON (400 invalid_grant, 401
  invalid_client).
- revoke (POST): forgets the token (and for a refresh token, its grant); 200 {} as Mastodon.
- `revoke_grants()`: the user removes the app in the network's settings: every token stops.

Tokens live `token_lifetime` seconds (None: never expire, no refresh token: Mastodon's
default). `accounts_by_token(token)` tells the fake's API who is calling.
"""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

from tests.fakes.base import FakeServer, Reply, Request


@dataclass
class Client:
    client_id: str
    secret: str
    redirect_uris: list[str]
    scopes: set[str]
    name: str = "app"


@dataclass
class Grant:
    id: int
    client_id: str
    account: str
    scope: str
    revoked: bool = False


@dataclass
class Code:
    grant: Grant
    redirect_uri: str
    challenge: str
    method: str
    created: float = field(default_factory=time.time)
    used: bool = False


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def oauth_error(status: int, error: str, description: str) -> Reply:
    return Reply(status, {"error": error, "error_description": description})


class AuthorizationServer:
    """Plugged into a FakeServer at the given paths."""

    def __init__(
        self,
        fake: FakeServer,
        *,
        authorize_path: str,
        token_path: str,
        revoke_path: str,
        client_auth: str = "post",  # post: client_id/secret in the form; basic: HTTP Basic
        pkce_required: bool = True,
        refresh_single_use: bool = False,
        known_scopes: set[str] | None = None,
        scope_separator: str = " ",
        refresh_scope: str = "",  # X: a refresh token only with offline.access
    ) -> None:
        self.refresh_scope = refresh_scope
        self.fake = fake
        self.client_auth = client_auth
        self.pkce_required = pkce_required
        self.refresh_single_use = refresh_single_use
        self.known_scopes = known_scopes
        self.scope_separator = scope_separator
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, Code] = {}
        self.access: dict[str, tuple[Grant, float | None]] = {}
        self.refresh: dict[str, Grant] = {}
        self.token_lifetime: float | None = None
        self.code_lifetime = 600.0
        self.account = "1"  # who signs in at the consent page
        self.refreshes = 0
        self.revoke_body: dict[str, object] = {}  # Mastodon: {}; X: {"revoked": true}
        self._grants = itertools.count(1)
        fake.route("GET", authorize_path, self.authorize_page)
        fake.route("POST", authorize_path, self.authorize_decide)
        fake.route("POST", token_path, self.token)
        fake.route("POST", revoke_path, self.revoke)

    # --- set-up and inspection -----------------------------------------------------------

    def add_client(
        self, client_id: str, secret: str, redirect_uris: list[str], scopes: set[str], name: str = "app"
    ) -> Client:
        client = Client(client_id, secret, redirect_uris, scopes, name)
        self.clients[client_id] = client
        return client

    def account_of(self, token: str) -> str | None:
        found = self.access.get(token)
        if found is None:
            return None
        grant, expires = found
        if grant.revoked or (expires is not None and time.time() >= expires):
            return None
        return grant.account

    def expire_access_tokens(self) -> None:
        """Every access token is past its lifetime (the refresh tokens still work)."""
        for token, (grant, _expires) in list(self.access.items()):
            self.access[token] = (grant, time.time() - 1)

    def revoke_grants(self) -> None:
        for grant, _expires in self.access.values():
            grant.revoked = True
        for grant in self.refresh.values():
            grant.revoked = True

    # --- authorize -------------------------------------------------------------------------

    def _authorize_problem(self, params: Callable[[str], str | None]) -> tuple[Client | None, str]:
        client = self.clients.get(params("client_id") or "")
        if client is None:
            return None, "The client is unknown."
        if params("response_type") != "code":
            return client, "response_type must be code."
        if params("redirect_uri") not in client.redirect_uris:
            return client, "The redirect uri included is not valid."
        scope = set(filter(None, (params("scope") or "").replace(",", " ").split()))
        if not scope or not scope <= client.scopes or (self.known_scopes and not scope <= self.known_scopes):
            return client, "The requested scope is invalid, unknown, or malformed."
        if self.pkce_required and (not params("code_challenge") or params("code_challenge_method") != "S256"):
            return client, "Code challenge is required (S256)."
        return client, ""

    def authorize_page(self, request: Request) -> Reply:
        client, problem = self._authorize_problem(lambda name: request.field(name))
        if problem:
            return Reply(400, f"<h1>Authorization error</h1><p>{html.escape(problem)}</p>", content_type="text/html")
        assert client is not None
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(values[0])}">'
            for name, values in request.query.items()
        )
        scopes = html.escape(request.field("scope") or "")
        page = (
            "<!doctype html><html><head><meta charset='utf-8'><title>Authorize</title></head><body>"
            f"<h1>Authorize {html.escape(client.name)}?</h1><p>Account: {html.escape(self.account)}</p>"
            f"<p>Scopes: <code>{scopes}</code></p><form method='post'>{hidden}"
            "<button type='submit' name='decision' value='approve' id='approve'>Authorize</button> "
            "<button type='submit' name='decision' value='deny' id='deny'>Deny</button></form></body></html>"
        )
        return Reply(200, page, content_type="text/html; charset=utf-8")

    def authorize_decide(self, request: Request) -> Reply:
        client, problem = self._authorize_problem(lambda name: request.field(name))
        if problem or client is None:
            return Reply(400, problem or "bad request", content_type="text/plain")
        redirect_uri = request.field("redirect_uri") or ""
        state = request.field("state") or ""
        if request.field("decision") != "approve":
            query = {"error": "access_denied", "error_description": "The resource owner denied the request."}
        else:
            code = secrets.token_urlsafe(24)
            grant = Grant(next(self._grants), client.client_id, self.account, request.field("scope") or "")
            self.codes[code] = Code(
                grant, redirect_uri, request.field("code_challenge") or "", request.field("code_challenge_method") or ""
            )
            query = {"code": code}
        if state:
            query["state"] = state
        return Reply(302, "", {"Location": f"{redirect_uri}?{urlencode(query)}"}, content_type="text/html")

    # --- token -----------------------------------------------------------------------------

    def _client(self, request: Request) -> Client | None:
        if self.client_auth == "basic":
            header = request.headers.get("authorization", "")
            if not header.lower().startswith("basic "):
                return None
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        else:
            client_id, secret = request.field("client_id") or "", request.field("client_secret") or ""
        client = self.clients.get(client_id)
        return client if client is not None and secrets.compare_digest(client.secret, secret) else None

    def _issue(self, grant: Grant) -> Reply:
        token = secrets.token_urlsafe(32)
        expires = time.time() + self.token_lifetime if self.token_lifetime else None
        self.access[token] = (grant, expires)
        body: dict[str, object] = {
            "access_token": token,
            "token_type": "Bearer",
            "scope": grant.scope,
            "created_at": int(time.time()),
        }
        if self.token_lifetime:
            body["expires_in"] = int(self.token_lifetime)
            if not self.refresh_scope or self.refresh_scope in grant.scope.split():
                refresh = secrets.token_urlsafe(32)
                self.refresh[refresh] = grant
                body["refresh_token"] = refresh
        return Reply(200, body)

    def token(self, request: Request) -> Reply:
        client = self._client(request)
        if client is None:
            return oauth_error(
                401,
                "invalid_client",
                "Client authentication failed due to unknown client, no client authentication included, "
                "or unsupported authentication method.",
            )
        invalid = (
            "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI "
            "used in the authorization request, or was issued to another client."
        )
        grant_type = request.field("grant_type")
        if grant_type == "authorization_code":
            code = self.codes.get(request.field("code") or "")
            if code is None or code.used or code.grant.client_id != client.client_id:
                return oauth_error(400, "invalid_grant", invalid)
            code.used = True
            if time.time() - code.created > self.code_lifetime or code.redirect_uri != request.field("redirect_uri"):
                return oauth_error(400, "invalid_grant", invalid)
            if code.challenge and s256(request.field("code_verifier") or "") != code.challenge:
                return oauth_error(400, "invalid_grant", "The code verifier does not match the code challenge.")
            return self._issue(code.grant)
        if grant_type == "refresh_token":
            refresh = request.field("refresh_token") or ""
            grant = self.refresh.get(refresh)
            if grant is None or grant.revoked or grant.client_id != client.client_id:
                return oauth_error(400, "invalid_grant", invalid)
            if self.refresh_single_use:
                del self.refresh[refresh]
            self.refreshes += 1
            return self._issue(grant)
        return oauth_error(400, "unsupported_grant_type", "The authorization grant type is not supported.")

    def revoke(self, request: Request) -> Reply:
        client = self._client(request)
        if client is None:
            return oauth_error(403, "unauthorized_client", "You are not authorized to revoke this token")
        token = request.field("token") or ""
        if token in self.access:
            self.access[token][0].revoked = True
        if token in self.refresh:
            self.refresh[token].revoked = True
        return Reply(200, self.revoke_body)


def consent(url: str, decision: str = "approve") -> dict[str, str]:
    """Act as the browser at the network's consent page: open it, press a button, and
    return the query of the redirect back to Tandem (code and state, or error)."""
    page = httpx.get(url)
    assert page.status_code == 200, page.text
    assert "<form" in page.text
    response = httpx.post(url.split("?")[0], data={**dict(parse_qsl(urlsplit(url).query)), "decision": decision})
    assert response.status_code == 302, response.text
    return dict(parse_qsl(urlsplit(response.headers["location"]).query))
