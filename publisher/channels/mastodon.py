"""Mastodon: v2 media upload with description, then one status with `language` and an
`Idempotency-Key` (the server returns the same status for the same key within an hour).

Channel.config: base_url (the instance), visibility (default public), and optionally the
instance's limits (max_characters, max_media_attachments, characters_reserved_per_url,
description_limit, image_size_limit, image_matrix_limit) for checks before approval; at
publish time the limits are read from /api/v2/instance. Secret: the user access token.

Connecting (workflow/oauth.py): Tandem registers itself once per instance (POST
/api/v1/apps), then the user signs in at the instance (authorization code with PKCE, S256,
Mastodon 4.3+). Mastodon's tokens do not expire and come without a refresh token; where a
server does answer `expires_in` and `refresh_token` (Doorkeeper's refresh option), the
credential is renewed with them before it expires.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from django.utils.translation import gettext_noop

from publisher.channels import oauth
from publisher.channels.base import (
    AuthError,
    ChannelAdapter,
    ChannelError,
    Credential,
    Cursor,
    InboundItem,
    Limits,
    PermanentError,
    Post,
    PostImage,
    Problem,
    Receipt,
    Refreshed,
    TextCount,
    TransientError,
    links_shown,
)
from publisher.channels.checking import count_problems, image_problems
from publisher.channels.counting import compose, cut_at, mastodon_length
from publisher.channels.http import HttpSession, from_response, parse_reset, parse_retry_after
from publisher.channels.netpolicy import RefusedDestination
from publisher.channels.secrets import channel_secret
from publisher.media.images import RenditionSpec, rendition_for
from publisher.models import ConnectFlow

_INSTANCE_CACHE: dict[str, tuple[float, dict[str, Any]]] = {}
_INSTANCE_LOCK = threading.Lock()
INSTANCE_TTL = 3600.0
# No instance limit is larger (image_matrix_limit is ~33 Mpx); anything above is not a limit.
LIMIT_MAX = 2**31 - 1


# Notifications per page: the API's maximum (default 40).
NOTIFICATIONS_PAGE = 80


class _Text(HTMLParser):
    """A status's HTML content as the plain text its author typed (paragraphs, line breaks)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def status_text(html: str) -> str:
    parser = _Text()
    parser.feed(html or "")
    parser.close()
    return "".join(parser.parts).strip()


def _min_id_of(link: dict[str, str] | None) -> str | None:
    if not link or not link.get("url"):
        return None
    values = parse_qs(urlsplit(link["url"]).query).get("min_id")
    return values[0] if values else None


def _mapping(value: Any, key: str) -> dict[str, Any]:
    found = value.get(key) if isinstance(value, dict) else None
    return found if isinstance(found, dict) else {}


def limits_from_instance(body: Any) -> dict[str, int]:
    """Only the documented limits, as bounded integers, ever reach the channel's config."""
    configuration = _mapping(body, "configuration")
    statuses = _mapping(configuration, "statuses")
    media = _mapping(configuration, "media_attachments")
    found = {
        key: value
        for key, value in {
            "max_characters": statuses.get("max_characters"),
            "max_media_attachments": statuses.get("max_media_attachments"),
            "characters_reserved_per_url": statuses.get("characters_reserved_per_url"),
            "description_limit": media.get("description_limit"),
            "image_size_limit": media.get("image_size_limit"),
            "image_matrix_limit": media.get("image_matrix_limit"),
        }.items()
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= LIMIT_MAX
    }
    return found


class MastodonAdapter(ChannelAdapter):
    kind = "mastodon"
    label = "Mastodon"
    url_fields = ("base_url",)
    limits = Limits(
        text_max=500,
        text_unit="graphemes",
        images_max=4,
        image_bytes_max=16 * 1024 * 1024,
        # The server keeps at most ~8.3 Mpx (3840×2160); timelines show far less. 2560 px
        # stays sharp on any screen and keeps uploads small and renditions fast.
        image_pixels_max=8_294_400,
        image_side_max=2560,
        image_formats=("JPEG", "PNG", "WEBP"),
        alt_text_max=1500,
        # Timelines show a single image about 600 px wide on the web [inference: column widths].
        image_shown_width=600,
    )
    supports_idempotency = True
    supports_replies = True
    supports_retract = True
    supports_edit = True
    connect_flow = ConnectFlow.OAUTH
    supports_refresh = True
    supports_inbox = True
    supports_metrics = True

    @property
    def base_url(self) -> str:
        return str(self.channel.config.get("base_url", "")).rstrip("/")

    def effective_limits(self, server: dict[str, Any] | None = None) -> tuple[Limits, int]:
        """Our defaults, then the channel's stored copy of the instance's, then the live ones."""
        values: dict[str, Any] = {**self.channel.config, **(server or {})}
        base = self.limits
        limits = replace(
            self.limits,
            text_max=int(values.get("max_characters", base.text_max or 500)),
            images_max=int(values.get("max_media_attachments", base.images_max)),
            alt_text_max=int(values.get("description_limit", base.alt_text_max or 1500)),
            image_bytes_max=int(values.get("image_size_limit", base.image_bytes_max or 0)),
            image_pixels_max=min(int(values.get("image_matrix_limit", 33_177_600)), base.image_pixels_max or 0),
        )
        return limits, int(values.get("characters_reserved_per_url", 23))

    def limits_in_force(self) -> Limits:
        return self.effective_limits()[0]

    def _measure(self, post: Post, limits: Limits, url_length: int) -> TextCount:
        text = compose(post.text, post.link)

        def length(part: str) -> int:
            return mastodon_length(part, url_length=url_length)

        limit = limits.text_max or 500
        # Mastodon prints a link without its scheme and "www.", cut after 30 characters.
        return TextCount(
            text=text,
            count=length(text),
            limit=limit,
            unit="graphemes",
            cut=cut_at(text, length, limit),
            links=links_shown(text, keep=30),
            rule="mastodon",
        )

    def _problems(self, post: Post, limits: Limits, url_length: int) -> list[Problem]:
        return count_problems(self._measure(post, limits, url_length)) + image_problems(post, limits)

    def measure(self, post: Post) -> TextCount:
        limits, url_length = self.effective_limits()
        return self._measure(post, limits, url_length)

    def check(self, post: Post) -> list[Problem]:
        limits, url_length = self.effective_limits()
        return self._problems(post, limits, url_length)

    def _session(self) -> HttpSession:
        token = channel_secret(self.channel)

        def to_error(response: httpx.Response) -> ChannelError:
            retry = parse_retry_after(response.headers.get("retry-after"))
            if retry is None and response.status_code == 429:
                # Mastodon sends no Retry-After; X-RateLimit-Reset is an ISO 8601 time.
                retry = parse_reset(response.headers.get("x-ratelimit-reset"))
            return from_response(response, retry_after=retry, secrets=[token])

        return HttpSession(
            config=self.channel.config,
            secrets=[token],
            to_error=to_error,
            headers={"Authorization": f"Bearer {token}"},
        )

    def _server_limits(self, http: HttpSession) -> dict[str, Any]:
        now = time.monotonic()
        with _INSTANCE_LOCK:
            cached = _INSTANCE_CACHE.get(self.base_url)
        if cached and now - cached[0] < INSTANCE_TTL:
            return cached[1]
        try:
            response = http.request("GET", f"{self.base_url}/api/v2/instance")
        except PermanentError as exc:
            if isinstance(exc, AuthError | RefusedDestination):
                raise
            return {}  # an older server without v2/instance: the channel's stored limits apply
        try:
            body = response.json()
        except ValueError:
            return {}  # not an instance document: the channel's stored limits apply
        found = limits_from_instance(body)
        with _INSTANCE_LOCK:
            _INSTANCE_CACHE[self.base_url] = (now, found)
        return found

    def server_limits(self) -> dict[str, Any]:
        """The instance's own limits, read from /api/v2/instance (network; never in a transaction)."""
        with self._session() as http:
            return self._server_limits(http)

    def _upload(self, http: HttpSession, image: PostImage, spec: RenditionSpec) -> str:
        rendition = rendition_for(image.path, spec, kind=self.kind)
        response = http.request(
            "POST",
            f"{self.base_url}/api/v2/media",
            files={"file": (rendition.name, rendition.read(), rendition.mime_type)},
            data={"description": image.alt},
        )
        media = response.json()
        media_id = str(media["id"])
        if response.status_code == 202 or media.get("url") is None:
            self._wait_processed(http, media_id)
        return media_id

    def _wait_processed(self, http: HttpSession, media_id: str) -> None:
        # A status with unprocessed media is refused (422): wait for 200 (206 = processing).
        interval = float(self.channel.config.get("poll_interval", 1.0))
        deadline = time.monotonic() + float(self.channel.config.get("media_timeout", 60.0))
        while time.monotonic() < deadline:
            time.sleep(interval)
            response = http.request("GET", f"{self.base_url}/api/v1/media/{media_id}")
            if response.status_code == 200:
                return
        raise TransientError(f"Media {media_id} still processing after the deadline.")

    def publish(self, post: Post, idempotency_key: str) -> Receipt:
        text = compose(post.text, post.link)
        if post.exercise:
            return self.exercise_receipt(post, idempotency_key, {"status": text, "language": post.language})
        with self._session() as http:
            limits, url_length = self.effective_limits(self._server_limits(http))
            blocking = [p.message for p in self._problems(post, limits, url_length) if p.severity == "error"]
            if blocking:
                raise PermanentError("; ".join(blocking))
            spec = RenditionSpec.from_limits(limits)
            media_ids = [self._upload(http, image, spec) for image in post.images]
            data: dict[str, Any] = {
                "status": text,
                "language": post.language,
                "visibility": self.channel.config.get("visibility", "public"),
            }
            if media_ids:
                data["media_ids[]"] = media_ids
            if post.reply_to:
                data["in_reply_to_id"] = post.reply_to.remote_id
            response = http.request(
                "POST",
                f"{self.base_url}/api/v1/statuses",
                data=data,
                headers={"Idempotency-Key": idempotency_key},
                creates_post=True,
                deduplicated=True,  # the server answers a repeated key with the same status
            )
            status = response.json()
        return Receipt(remote_id=str(status["id"]), url=status.get("url") or status.get("uri") or "")

    def edit(self, receipt: Receipt, post: Post, idempotency_key: str) -> Receipt:
        """PUT /api/v1/statuses/:id with the new text. The server replaces the media with the
        `media_ids[]` sent (none: the images go), so the status's own are read first and sent
        back. Mastodon keeps the earlier version in the status's edit history."""
        text = compose(post.text, post.link)
        if post.exercise:
            return self.exercise_receipt(post, idempotency_key, {"status": text, "edits": receipt.remote_id})
        with self._session() as http:
            limits, url_length = self.effective_limits(self._server_limits(http))
            # The images stay the original's: only the text counts against the limits here.
            blocking = [
                p.message for p in self._problems(replace(post, images=()), limits, url_length) if p.severity == "error"
            ]
            if blocking:
                raise PermanentError("; ".join(blocking))
            url = f"{self.base_url}/api/v1/statuses/{receipt.remote_id}"
            current = http.request("GET", url).json()
            data: dict[str, Any] = {"status": text, "language": post.language}
            media_ids = [str(m["id"]) for m in current.get("media_attachments") or [] if m.get("id")]
            if media_ids:
                data["media_ids[]"] = media_ids
            status = http.request("PUT", url, data=data).json()
        return Receipt(
            remote_id=str(status["id"]),
            url=status.get("url") or status.get("uri") or receipt.url,
            extra={"edited_at": status.get("edited_at")},
        )

    def retract(self, receipt: Receipt) -> None:
        with self._session() as http:
            response = http.request("DELETE", f"{self.base_url}/api/v1/statuses/{receipt.remote_id}", check=False)
            if response.status_code == 404:
                return  # already deleted
            if not response.is_success:
                raise http.error_for(response)

    def refresh(self, credential: Credential) -> Refreshed:
        refresh = credential.secrets.get("refresh", "")
        if not refresh:
            raise AuthError(gettext_noop("The instance gave no refresh token: sign in again."))
        client_id, client_secret = credential.secrets.get("client_id", ""), credential.secrets.get("client_secret", "")
        tokens = oauth.token_request(
            f"{self.base_url}/oauth/token",
            {
                "grant_type": "refresh_token",
                "refresh_token": refresh,
                "client_id": client_id,
                "client_secret": client_secret,
            },
            config=self.channel.config,
        )
        return Refreshed(
            secrets={
                **credential.secrets,
                "secret": tokens.access,
                # Doorkeeper may keep the refresh token or rotate it.
                "refresh": tokens.refresh or refresh,
            },
            expires_at=tokens.expires_at,
        )

    def revoke(self, credential: Credential) -> None:
        secrets = credential.secrets
        oauth.json_request(
            "POST",
            f"{self.base_url}/oauth/revoke",
            config=self.channel.config,
            secrets=(secrets.get("client_secret", ""), secrets.get("secret", ""), secrets.get("refresh", "")),
            data={
                "client_id": secrets.get("client_id", ""),
                "client_secret": secrets.get("client_secret", ""),
                "token": secrets.get("secret", ""),
            },
        )

    def fetch_replies(self, cursor: Cursor | None) -> tuple[list[InboundItem], Cursor]:
        """Mentions (replies to our statuses are mentions too), oldest page first: ``min_id``
        asks for the notifications just after the last one stored, and the Link header's
        ``prev`` names where the next page starts. Never fetched: the newest page only."""
        position = dict(cursor or {})
        params: list[tuple[str, str]] = [("types[]", "mention"), ("limit", str(NOTIFICATIONS_PAGE))]
        if position.get("min_id"):
            params.append(("min_id", str(position["min_id"])))
        with self._session() as http:
            response = http.request("GET", f"{self.base_url}/api/v1/notifications", params=params)
            body = response.json()
            links = response.links
        if not isinstance(body, list) or not body:
            # Nothing yet on a first fetch: from now on everything is new (min_id 0), so
            # the next fetch reads all that arrived meanwhile, however much.
            return [], position if position.get("min_id") else {**position, "min_id": "0"}
        newest = _min_id_of(links.get("prev")) or max((str(n.get("id", "")) for n in body), key=_id_order)
        items = []
        for notification in reversed(body):  # the body is newest first; the inbox reads in order
            status = notification.get("status") if isinstance(notification, dict) else None
            if notification.get("type") != "mention" or not isinstance(status, dict):
                continue
            account = status.get("account") or notification.get("account") or {}
            in_reply_to = str(status.get("in_reply_to_id") or "")
            items.append(
                InboundItem(
                    remote_id=str(status["id"]),
                    author_handle="@" + str(account.get("acct", "")),
                    text=status_text(str(status.get("content", ""))),
                    posted_at=datetime.fromisoformat(str(status["created_at"]).replace("Z", "+00:00")),
                    url=str(status.get("url") or status.get("uri") or ""),
                    kind="reply" if in_reply_to else "mention",
                    answers=(in_reply_to,) if in_reply_to else (),
                    thread={"acct": str(account.get("acct", ""))},
                )
            )
        return items, {**position, "min_id": newest}

    def fetch_metrics(self, receipt: Receipt) -> dict[str, int]:
        with self._session() as http:
            status = http.request("GET", f"{self.base_url}/api/v1/statuses/{receipt.remote_id}").json()
        names = {"replies": "replies_count", "reposts": "reblogs_count", "likes": "favourites_count"}
        names["quotes"] = "quotes_count"  # Mastodon 4.4 and later
        return {name: int(status[key]) for name, key in names.items() if isinstance(status.get(key), int)}


# --- connecting: Tandem's app on the instance, the user's sign-in -----------------------------

# Granular scopes (Mastodon 3.5+ docs, api/oauth-scopes): post, upload media, know who signed in.
SCOPES = "write:statuses write:media read:accounts"
CLIENT_NAME = "Tandem"


def app_register(base_url: str, *, redirect_uri: str, website: str = "") -> tuple[str, str]:
    """Register Tandem as a client of the instance; returns (client_id, client_secret)."""
    data = {"client_name": CLIENT_NAME, "redirect_uris": redirect_uri, "scopes": SCOPES}
    if website:
        data["website"] = website
    body = oauth.json_request("POST", f"{base_url}/api/v1/apps", config={"base_url": base_url}, data=data)
    body = body if isinstance(body, dict) else {}
    client_id, client_secret = body.get("client_id"), body.get("client_secret")
    if not isinstance(client_id, str) or not isinstance(client_secret, str) or not client_id or not client_secret:
        raise PermanentError(
            gettext_noop("The instance registered no client (no client_id or client_secret in its answer).")
        )
    return client_id, client_secret


def authorize_url(
    base_url: str, *, client_id: str, redirect_uri: str, state: str, challenge: str, language: str = ""
) -> str:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": SCOPES,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    if language:
        query["lang"] = language
    return f"{base_url}/oauth/authorize?{urlencode(query)}"


def token_from_code(
    base_url: str, *, client_id: str, client_secret: str, redirect_uri: str, code: str, verifier: str
) -> oauth.TokenSet:
    return oauth.token_request(
        f"{base_url}/oauth/token",
        {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
            "scope": SCOPES,
        },
        config={"base_url": base_url},
    )


def account_of(base_url: str, token: str) -> str:
    """The signed-in account as people write it: @name@instance."""
    body = oauth.json_request(
        "GET", f"{base_url}/api/v1/accounts/verify_credentials", config={"base_url": base_url}, bearer=token
    )
    username = body.get("username") if isinstance(body, dict) else None
    if not isinstance(username, str) or not username:
        raise PermanentError(gettext_noop("The instance did not say which account signed in."))
    return f"@{username}@{urlsplit(base_url).netloc}"


def instance_limits(base_url: str) -> dict[str, int]:
    """The instance's limits (GET /api/v2/instance, public), to store in the channel's config."""
    return limits_from_instance(oauth.json_request("GET", f"{base_url}/api/v2/instance", config={"base_url": base_url}))


def _id_order(value: str) -> tuple[int, str]:
    # Mastodon ids are numeric strings: compare them as numbers, longest first.
    return (len(value), value)
