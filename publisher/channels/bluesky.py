"""Bluesky (AT Protocol): a reused session, uploadBlob per image, one createRecord.

Text: ≤ 300 grapheme clusters AND ≤ 3000 UTF-8 bytes; links become `#link` facets with
UTF-8 byte offsets (without one a URL is plain text). Alt text is required on each image.
There is no idempotency header, so the record key is derived from the idempotency key: a
retried create hits the existing record, which we then read back instead of posting twice.

Channel.config: pds_url (default https://bsky.social), identifier (the handle),
blob_max (bytes, default 1,000,000 as the docs still say; the lexicon allows 2,000,000).

Credential, either:
- connected from the admin (flow app_password): `session_open` logs in once with the handle
  and app password; the store keeps the session only (access + refresh JWT, did, handle),
  never the password. The access JWT lives about 2 hours: `refresh` (refreshSession with the
  refresh JWT, which the PDS rotates) renews it before it expires; a refused refresh
  (revoked app password, expired grant) needs a person to connect again. Publishing meets
  an expired access token only if a refresh failed for now: that is transient.
- or the operator's app password in the environment (secret_ref): sessions are opened and
  renewed in this process's memory.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
from django.utils.translation import gettext_noop

from publisher import metrics
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
    Problem,
    Receipt,
    Refreshed,
    TextCount,
    TransientError,
    links_shown,
)
from publisher.channels.checking import count_problems, image_problems
from publisher.channels.counting import bluesky_length, compose, cut_at, graphemes, urls, utf8_bytes
from publisher.channels.credentials import credential_get
from publisher.channels.http import HttpSession, error_text, from_response, parse_reset, parse_retry_after
from publisher.channels.secrets import channel_secret
from publisher.media.images import RenditionSpec, rendition_for
from publisher.models import ConnectFlow

COLLECTION = "app.bsky.feed.post"
MAX_GRAPHEMES = 300
MAX_BYTES = 3000
_S32 = "234567abcdefghijklmnopqrstuvwxyz"
# Derived record keys carry a timestamp in [2024-01-01, +2.2 years): valid TIDs, stable per key.
_TID_EPOCH_US = 1_704_067_200_000_000

# The inbox: what someone wrote to us; likes, reposts and follows are not read.
INBOX_REASONS = ("reply", "mention", "quote")
NOTIFICATIONS_PAGE = 100  # the lexicon's maximum

_SESSIONS: dict[tuple[str, str], dict[str, str]] = {}
_SESSIONS_LOCK = threading.Lock()


def tid_for(key: str) -> str:
    """A valid TID (13 base32-sortable chars) that is the same for the same idempotency key."""
    digest = hashlib.sha256(key.encode()).digest()
    micros = _TID_EPOCH_US + int.from_bytes(digest[:8], "big") % (1 << 46)
    clock = int.from_bytes(digest[8:10], "big") % 1024
    value = (micros << 10) | clock
    return "".join(_S32[(value >> (5 * i)) & 31] for i in reversed(range(13)))


def link_facets(text: str) -> list[dict[str, Any]]:
    """`#link` facets; byte offsets into the UTF-8 text, end exclusive."""
    facets = []
    for span in urls(text):
        start = len(text[: span.start].encode("utf-8"))
        facets.append(
            {
                "index": {"byteStart": start, "byteEnd": start + len(span.url.encode("utf-8"))},
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": span.url}],
            }
        )
    return facets


class BlueskyAdapter(ChannelAdapter):
    kind = "bluesky"
    default_endpoint = "https://bsky.social"
    label = "Bluesky"
    url_fields = ("pds_url",)
    limits = Limits(
        text_max=MAX_GRAPHEMES,
        text_unit="graphemes",
        images_max=4,
        image_bytes_max=1_000_000,
        image_side_max=2000,
        image_formats=("JPEG", "PNG"),
        alt_text_max=2000,
        alt_text_required=True,
        # Timelines show a single image about 600 px wide on the web [inference: column widths].
        image_shown_width=600,
    )
    supports_idempotency = True
    supports_replies = True
    supports_retract = True
    connect_flow = ConnectFlow.APP_PASSWORD
    supports_refresh = True
    supports_inbox = True
    supports_metrics = True

    def __init__(self, channel: Any) -> None:
        super().__init__(channel)
        # A stored session (connected from the admin) replaces the operator's password.
        self._stored: dict[str, str] | None = None

    @property
    def pds(self) -> str:
        return str(self.channel.config.get("pds_url", "https://bsky.social")).rstrip("/")

    @property
    def identifier(self) -> str:
        return str(self.channel.config.get("identifier", ""))

    def effective_limits(self) -> Limits:
        return replace(self.limits, image_bytes_max=int(self.channel.config.get("blob_max", 1_000_000)))

    def limits_in_force(self) -> Limits:
        return self.effective_limits()

    def measure(self, post: Post) -> TextCount:
        text = compose(post.text, post.link)
        grapheme_count, byte_count = bluesky_length(text)
        cuts = [cut_at(text, graphemes, MAX_GRAPHEMES), cut_at(text, utf8_bytes, MAX_BYTES)]
        found = [cut for cut in cuts if cut is not None]
        # The text goes out as written (URLs in full, made links by facets) and counts in full.
        return TextCount(
            text=text,
            count=grapheme_count,
            limit=MAX_GRAPHEMES,
            unit="graphemes",
            cut=min(found) if found else None,
            links=links_shown(text),
            also=((byte_count, MAX_BYTES, "bytes"),),
            rule="bluesky",
        )

    def check(self, post: Post) -> list[Problem]:
        return count_problems(self.measure(post)) + image_problems(post, self.effective_limits())

    # --- session -------------------------------------------------------------------

    def _credential(self) -> tuple[str, list[str]]:
        """(the operator's app password or "", every value to keep out of error texts)."""
        stored = credential_get(self.channel)
        if stored is not None and stored.flow == ConnectFlow.APP_PASSWORD:
            self._stored = dict(stored.secrets)
            return "", [self._stored.get("access", ""), self._stored.get("refresh", "")]
        password = channel_secret(self.channel)
        return password, [password]

    def _to_error(self, response: httpx.Response, password: str) -> ChannelError:
        retry = parse_retry_after(response.headers.get("retry-after"))
        if retry is None and response.status_code == 429:
            retry = parse_reset(response.headers.get("ratelimit-reset"))
        hidden = [password] + (
            [self._stored.get("access", ""), self._stored.get("refresh", "")] if self._stored else []
        )
        return from_response(response, retry_after=retry, secrets=hidden)

    # --- connect, refresh, disconnect (the credential store) -------------------------

    def session_open(self, identifier: str, app_password: str) -> tuple[Refreshed, str]:
        """Log in once with the handle and an app password (connect from the admin): the
        session to store and the account's handle. The password itself is not kept.
        AuthError if the PDS refuses the pair."""
        with HttpSession(config=self.channel.config, secrets=[app_password]) as http:
            response = http.request(
                "POST",
                f"{self.pds}/xrpc/com.atproto.server.createSession",
                json={"identifier": identifier, "password": app_password},
                check=False,
            )
            if response.status_code in (400, 401):
                raise AuthError(f"HTTP {response.status_code}: {error_text(response, app_password)}", status=401)
            if not response.is_success:
                raise self._to_error(response, app_password)
            body = response.json()
        session = {
            "access": body["accessJwt"],
            "refresh": body["refreshJwt"],
            "did": body["did"],
            "handle": body["handle"],
        }
        return self._refreshed(session), str(body["handle"])

    def _refreshed(self, session: dict[str, str]) -> Refreshed:
        return Refreshed(
            secrets=session,
            expires_at=jwt_expiry(session["access"]),
            refresh_expires_at=jwt_expiry(session["refresh"]),
        )

    def refresh(self, credential: Credential) -> Refreshed:
        """com.atproto.server.refreshSession with the refresh JWT (the PDS answers a new pair
        and revokes the one used). ExpiredToken, InvalidToken, AccountTakedown: AuthError."""
        session = dict(credential.secrets)
        hidden = [session.get("access", ""), session.get("refresh", "")]
        with HttpSession(config=self.channel.config, secrets=hidden) as http:
            response = http.request(
                "POST",
                f"{self.pds}/xrpc/com.atproto.server.refreshSession",
                headers={"Authorization": f"Bearer {session.get('refresh', '')}"},
                check=False,
            )
            if response.is_success:
                body = response.json()
                session |= {"access": body["accessJwt"], "refresh": body["refreshJwt"], "handle": body["handle"]}
                return self._refreshed(session)
            if response.status_code in (400, 401) and _error_name(response) in (
                "ExpiredToken",
                "InvalidToken",
                "AccountTakedown",
                "AuthenticationRequired",
                "InvalidRequest",
            ):
                raise AuthError(
                    f"HTTP {response.status_code}: {error_text(response, *hidden)}", status=response.status_code
                )
            raise from_response(response, secrets=hidden)

    def revoke(self, credential: Credential) -> None:
        """com.atproto.server.deleteSession with the refresh JWT (its expiry is ignored)."""
        refresh = credential.secrets.get("refresh", "")
        hidden = [credential.secrets.get("access", ""), refresh]
        with HttpSession(config=self.channel.config, secrets=hidden) as http:
            response = http.request(
                "POST",
                f"{self.pds}/xrpc/com.atproto.server.deleteSession",
                headers={"Authorization": f"Bearer {refresh}"},
                check=False,
            )
            if not response.is_success:
                raise from_response(response, secrets=hidden)

    def _create_session(self, http: HttpSession, password: str) -> dict[str, str]:
        response = http.request(
            "POST",
            f"{self.pds}/xrpc/com.atproto.server.createSession",
            json={"identifier": self.identifier, "password": password},
            check=False,
        )
        if response.status_code in (400, 401) and _error_name(response) in (
            "AuthenticationRequired",
            "AuthFactorTokenRequired",
            "AccountTakedown",
            "InvalidRequest",
        ):
            raise AuthError(f"HTTP {response.status_code}: {error_text(response)}", status=response.status_code)
        if not response.is_success:
            raise self._to_error(response, password)
        body = response.json()
        return {
            "access": body["accessJwt"],
            "refresh": body["refreshJwt"],
            "did": body["did"],
            "handle": body["handle"],
        }

    def _refresh_session(self, http: HttpSession, session: dict[str, str], password: str) -> dict[str, str]:
        try:
            response = http.request(
                "POST",
                f"{self.pds}/xrpc/com.atproto.server.refreshSession",
                headers={"Authorization": f"Bearer {session['refresh']}"},
                check=False,
            )
        except ChannelError:
            metrics.token_refresh_failed(network=self.kind)
            raise
        if not response.is_success:
            metrics.token_refresh_failed(network=self.kind)
            return self._create_session(http, password)  # the refresh token expired too
        body = response.json()
        return {**session, "access": body["accessJwt"], "refresh": body["refreshJwt"]}

    def _session(self, http: HttpSession, password: str, *, renew: bool = False) -> dict[str, str]:
        if self._stored is not None:
            if renew:
                # Only the renewal writes a rotated refresh JWT back: a publish renewing it
                # here would leave the store holding a revoked one.
                raise TransientError(gettext_noop("The Bluesky session expired; Tandem renews it before trying again."))
            return self._stored
        key = (self.pds, self.identifier)
        # createSession is limited to 30 per 5 minutes: reuse the session across posts.
        with _SESSIONS_LOCK:
            session = _SESSIONS.get(key)
            if session is None:
                session = self._create_session(http, password)
            elif renew:
                session = self._refresh_session(http, session, password)
            _SESSIONS[key] = session
        return session

    def _xrpc(self, http: HttpSession, password: str, method: str, nsid: str, **kwargs: Any) -> httpx.Response:
        """One authenticated call; an expired access token is refreshed once."""
        session = self._session(http, password)
        creates_post = kwargs.pop("creates_post", False)
        extra_headers = kwargs.pop("headers", {})
        response = None
        for attempt in (1, 2):
            response = http.request(
                method,
                f"{self.pds}/xrpc/{nsid}",
                headers={**extra_headers, "Authorization": f"Bearer {session['access']}"},
                check=False,
                creates_post=creates_post,
                deduplicated=True,
                **kwargs,
            )
            # An expired access token (400 ExpiredToken), or one the server no longer knows (401):
            # refresh, or log in again, once.
            expired = response.status_code == 401 or (
                response.status_code == 400 and _error_name(response) in ("ExpiredToken", "InvalidToken")
            )
            if not (expired and attempt == 1):
                break
            session = self._session(http, password, renew=True)
        assert response is not None
        return response

    # --- publish -------------------------------------------------------------------

    def publish(self, post: Post, idempotency_key: str) -> Receipt:
        text = compose(post.text, post.link)
        record: dict[str, Any] = {
            "$type": COLLECTION,
            "text": text,
            "createdAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "langs": [post.language],
        }
        facets = link_facets(text)
        if facets:
            record["facets"] = facets
        if post.reply_to:
            parent = {
                "uri": post.reply_to.extra.get("uri", post.reply_to.remote_id),
                "cid": post.reply_to.extra.get("cid", ""),
            }
            root = {
                "uri": post.reply_to.extra.get("root_uri", parent["uri"]),
                "cid": post.reply_to.extra.get("root_cid", parent["cid"]),
            }
            record["reply"] = {"root": root, "parent": parent}
        rkey = tid_for(idempotency_key)
        if post.exercise:
            return self.exercise_receipt(post, idempotency_key, {"record": record, "rkey": rkey})
        blocking = [p.message for p in self.check(post) if p.severity == "error"]
        if blocking:
            raise PermanentError("; ".join(blocking))
        password, hidden = self._credential()
        with HttpSession(config=self.channel.config, secrets=hidden) as http:
            if post.images:
                spec = RenditionSpec.from_limits(self.effective_limits())
                images = []
                for image in post.images:
                    rendition = rendition_for(image.path, spec, kind=self.kind)
                    response = self._xrpc(
                        http,
                        password,
                        "POST",
                        "com.atproto.repo.uploadBlob",
                        content=rendition.read(),
                        headers={"Content-Type": rendition.mime_type},
                    )
                    if not response.is_success:
                        raise self._to_error(response, password)
                    images.append(
                        {
                            "image": response.json()["blob"],
                            "alt": image.alt,
                            "aspectRatio": {"width": rendition.width, "height": rendition.height},
                        }
                    )
                record["embed"] = {"$type": "app.bsky.embed.images", "images": images}
            session = self._session(http, password)
            response = self._xrpc(
                http,
                password,
                "POST",
                "com.atproto.repo.createRecord",
                json={"repo": session["did"], "collection": COLLECTION, "rkey": rkey, "record": record},
                creates_post=True,
            )
            if response.is_success:
                body = response.json()
                return self._receipt(session, body["uri"], body["cid"], rkey, post)
            error = self._to_error(response, password)
            if response.status_code in (401, 403, 429):
                raise error
            # A retry after an unknown outcome meets its own record: read it back.
            existing = self._existing(http, password, session, rkey, text)
            if existing is not None:
                return self._receipt(session, existing["uri"], existing["cid"], rkey, post)
            raise error

    def _existing(
        self, http: HttpSession, password: str, session: dict[str, str], rkey: str, text: str
    ) -> dict[str, Any] | None:
        response = self._xrpc(
            http,
            password,
            "GET",
            "com.atproto.repo.getRecord",
            params={"repo": session["did"], "collection": COLLECTION, "rkey": rkey},
        )
        if not response.is_success:
            return None
        body: dict[str, Any] = response.json()
        return body if body.get("value", {}).get("text") == text else None

    def _receipt(self, session: dict[str, str], uri: str, cid: str, rkey: str, post: Post) -> Receipt:
        extra = {"uri": uri, "cid": cid}
        if post.reply_to:
            extra["root_uri"] = post.reply_to.extra.get("root_uri", post.reply_to.extra.get("uri", ""))
            extra["root_cid"] = post.reply_to.extra.get("root_cid", post.reply_to.extra.get("cid", ""))
        else:
            extra["root_uri"], extra["root_cid"] = uri, cid
        return Receipt(remote_id=uri, url=f"https://bsky.app/profile/{session['handle']}/post/{rkey}", extra=extra)

    def retract(self, receipt: Receipt) -> None:
        password, hidden = self._credential()
        rkey = receipt.remote_id.rsplit("/", 1)[-1]
        with HttpSession(config=self.channel.config, secrets=hidden) as http:
            session = self._session(http, password)
            response = self._xrpc(
                http,
                password,
                "POST",
                "com.atproto.repo.deleteRecord",
                json={"repo": session["did"], "collection": COLLECTION, "rkey": rkey},
            )
            if not response.is_success:
                raise self._to_error(response, password)

    # --- inbox ---------------------------------------------------------------------

    def fetch_replies(self, cursor: Cursor | None) -> tuple[list[InboundItem], Cursor]:
        """listNotifications pages go from the newest back in time, so reading what is new is a
        walk down from the top to the newest notification stored last time (``seen``). Each
        page's cursor is kept (``walk``): a walk stopped half-way resumes at its next page, and
        only when it reaches ``seen`` does the top of the walk become the new ``seen``. Never
        fetched: the newest page only."""
        position = dict(cursor or {})
        seen: dict[str, str] | None = position.get("seen")
        walk: dict[str, Any] | None = position.get("walk")
        params: list[tuple[str, str]] = [("limit", str(NOTIFICATIONS_PAGE))]
        params += [("reasons", reason) for reason in INBOX_REASONS]
        if walk:
            params.append(("cursor", str(walk["cursor"])))
        password = channel_secret(self.channel)
        with HttpSession(config=self.channel.config, secrets=[password]) as http:
            response = self._xrpc(http, password, "GET", "app.bsky.notification.listNotifications", params=params)
            if not response.is_success:
                raise self._to_error(response, password)
            body = response.json()
        notifications = [n for n in body.get("notifications") or [] if isinstance(n, dict)]
        top = walk["top"] if walk else None
        if top is None and notifications:
            top = {"at": str(notifications[0]["indexedAt"]), "uri": str(notifications[0]["uri"])}
        items: list[InboundItem] = []
        # Never fetched: this page is all we read. Fetched before with nothing there ("seen"
        # None): every notification is new, the walk goes to the end.
        reached = "seen" not in position and not walk
        for notification in notifications:
            if seen and (notification["uri"] == seen["uri"] or str(notification["indexedAt"]) < seen["at"]):
                reached = True
                break
            if notification.get("reason") in INBOX_REASONS:
                items.append(_inbound(notification))
        next_page = body.get("cursor")
        if reached or not next_page or not notifications:
            return items, {"seen": top or seen, "walk": None}
        return items, {"seen": seen, "walk": {"top": top, "cursor": str(next_page)}}

    def fetch_metrics(self, receipt: Receipt) -> dict[str, int]:
        uri = str(receipt.extra.get("uri") or receipt.remote_id)
        password = channel_secret(self.channel)
        with HttpSession(config=self.channel.config, secrets=[password]) as http:
            response = self._xrpc(http, password, "GET", "app.bsky.feed.getPosts", params={"uris": uri})
            if not response.is_success:
                raise self._to_error(response, password)
            posts = response.json().get("posts") or []
        if not posts:
            raise PermanentError(gettext_noop("The post is gone (deleted or taken down)."))
        names = {"replies": "replyCount", "reposts": "repostCount", "likes": "likeCount", "quotes": "quoteCount"}
        return {name: int(posts[0][key]) for name, key in names.items() if isinstance(posts[0].get(key), int)}


def _inbound(notification: dict[str, Any]) -> InboundItem:
    record = notification.get("record") or {}
    author = notification.get("author") or {}
    uri, cid = str(notification["uri"]), str(notification.get("cid", ""))
    reply = record.get("reply") if isinstance(record.get("reply"), dict) else None
    answers: tuple[str, ...] = ()
    if reply:
        answers = tuple(str(reply.get(part, {}).get("uri", "")) for part in ("parent", "root"))
        root = reply.get("root", {})
        thread = {"uri": uri, "cid": cid, "root_uri": str(root.get("uri", uri)), "root_cid": str(root.get("cid", cid))}
    else:
        embedded = (record.get("embed") or {}).get("record") or {}
        if notification.get("reason") == "quote" and embedded.get("uri"):
            answers = (str(embedded["uri"]),)
        thread = {"uri": uri, "cid": cid, "root_uri": uri, "root_cid": cid}
    handle = str(author.get("handle", ""))
    created = str(record.get("createdAt") or notification["indexedAt"])
    return InboundItem(
        remote_id=uri,
        author_handle="@" + handle,
        text=str(record.get("text", "")),
        posted_at=datetime.fromisoformat(created.replace("Z", "+00:00")),
        url=f"https://bsky.app/profile/{handle}/post/{uri.rsplit('/', 1)[-1]}",
        kind=str(notification.get("reason")),
        answers=tuple(a for a in answers if a),
        thread=thread,
    )


def _error_name(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""


def jwt_expiry(token: str) -> datetime | None:
    """The `exp` claim of a session JWT (read, not verified: the PDS verifies it; we only
    plan the refresh), or None if the token does not say."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return datetime.fromtimestamp(int(claims["exp"]), tz=UTC)
    except (IndexError, ValueError, KeyError, TypeError):
        return None


def sessions_forget() -> None:
    """Drop cached sessions (tests; or after the app password was changed)."""
    with _SESSIONS_LOCK:
        _SESSIONS.clear()
