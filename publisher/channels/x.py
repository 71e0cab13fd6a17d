"""X (API v2): media upload, alt text through /2/media/metadata, then POST /2/tweets.

Length is twitter-text v3's weighted count (280; every URL 23, with or without a scheme;
emoji and non-Latin 2), computed by the maintained port `twitter-text-parser`.
X has no idempotency key and refuses an identical text with 403 "duplicate content": after
an unknown outcome that answer most likely means our first attempt went out, so it is
reported as UnknownOutcome, never as an authentication failure.

Channel.config: api_url (default https://api.x.com), username (for links), user_id (the
account's numeric id, for the inbox). Secret: an OAuth 2.0 user access token (tweet.write,
media.write; tweet.read and users.read for the inbox).

Connecting (workflow/oauth.py): OAuth 2.0 authorization code with PKCE (S256) at
x.com/i/oauth2/authorize, as Tandem's confidential client (TANDEM_X_CLIENT_ID/SECRET, sent
as HTTP Basic to the token and revoke endpoints). Access tokens last two hours; with
`offline.access` a refresh token comes too, single-use: each refresh answers a new one,
which replaces it (the credential store's refresh lease keeps two workers from using it twice).

Inbox: GET /2/users/:id/mentions (replies to our posts mention us) pages from the newest back
to `since_id`; the walk's `pagination_token` is kept, so a walk stopped half-way resumes at
its next page, and only a finished walk moves `since_id` to the newest mention it met.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
from django.conf import settings
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
    Problem,
    Receipt,
    Refreshed,
    TextCount,
    UnknownOutcome,
)
from publisher.channels.checking import count_problems, image_problems, x_measure
from publisher.channels.counting import X_MAX, compose
from publisher.channels.http import HttpSession, error_text, from_response, parse_reset, parse_retry_after
from publisher.channels.secrets import channel_secret
from publisher.media.images import RenditionSpec, rendition_for
from publisher.models import ConnectFlow

# docs.x.com fundamentals/authentication/oauth-2-0/authorization-code: post, upload media,
# read the signed-in user, and a refresh token (offline.access).
SCOPES = "tweet.read tweet.write users.read offline.access media.write"


class XAdapter(ChannelAdapter):
    kind = "x"
    default_endpoint = "https://api.x.com"
    label = "X"
    url_fields = ("api_url",)
    limits = Limits(
        text_max=X_MAX,
        text_unit="weighted",
        images_max=4,
        image_bytes_max=5 * 1024 * 1024,
        # X shows images at most 2048 px wide ("large"); more only costs upload time.
        image_side_max=2560,
        image_formats=("JPEG", "PNG", "WEBP"),
        alt_text_max=1000,
        # Timelines show a single image about 600 px wide on the web [inference: column widths].
        image_shown_width=600,
    )
    supports_replies = True
    supports_retract = True
    connect_flow = ConnectFlow.OAUTH
    supports_refresh = True
    supports_inbox = True
    supports_metrics = True

    @property
    def api(self) -> str:
        return str(self.channel.config.get("api_url", "https://api.x.com")).rstrip("/")

    def measure(self, post: Post) -> TextCount:
        return x_measure(post)

    def check(self, post: Post) -> list[Problem]:
        return count_problems(self.measure(post)) + image_problems(post, self.limits)

    def _to_error(self, response: httpx.Response, token: str) -> ChannelError:
        text = error_text(response)
        if response.status_code == 403 and "duplicate" in text.lower():
            return UnknownOutcome(f"HTTP 403: {text} (possibly already posted)", status=403)
        retry = parse_retry_after(response.headers.get("retry-after"))
        if retry is None and response.status_code == 429:
            retry = parse_reset(response.headers.get("x-rate-limit-reset"))
        return from_response(response, retry_after=retry, secrets=[token])

    def _session(self, token: str) -> HttpSession:
        return HttpSession(
            config=self.channel.config,
            secrets=[token],
            to_error=lambda response: self._to_error(response, token),
            headers={"Authorization": f"Bearer {token}"},
        )

    def publish(self, post: Post, idempotency_key: str) -> Receipt:
        text = compose(post.text, post.link)
        payload: dict[str, object] = {"text": text}
        if post.reply_to:
            payload["reply"] = {"in_reply_to_tweet_id": post.reply_to.remote_id}
        if post.exercise:
            return self.exercise_receipt(post, idempotency_key, payload)
        blocking = [p.message for p in self.check(post) if p.severity == "error"]
        if blocking:
            raise PermanentError("; ".join(blocking))
        token = channel_secret(self.channel)
        with self._session(token) as http:
            media_ids = []
            spec = RenditionSpec.from_limits(self.limits)
            for image in post.images:
                rendition = rendition_for(image.path, spec, kind=self.kind)
                response = http.request(
                    "POST",
                    f"{self.api}/2/media/upload",
                    data={"media_category": "tweet_image", "media_type": rendition.mime_type},
                    files={"media": (rendition.name, rendition.read(), rendition.mime_type)},
                )
                media_id = str(response.json()["data"]["id"])
                if image.alt:
                    http.request(
                        "POST",
                        f"{self.api}/2/media/metadata",
                        json={"id": media_id, "metadata": {"alt_text": {"text": image.alt}}},
                    )
                media_ids.append(media_id)
            if media_ids:
                payload["media"] = {"media_ids": media_ids}
            response = http.request("POST", f"{self.api}/2/tweets", json=payload, creates_post=True)
            tweet_id = str(response.json()["data"]["id"])
        username = str(self.channel.config.get("username", "")).lstrip("@")
        url = f"https://x.com/{username}/status/{tweet_id}" if username else f"https://x.com/i/web/status/{tweet_id}"
        return Receipt(remote_id=tweet_id, url=url)

    def retract(self, receipt: Receipt) -> None:
        token = channel_secret(self.channel)
        with self._session(token) as http:
            http.request("DELETE", f"{self.api}/2/tweets/{receipt.remote_id}")

    def refresh(self, credential: Credential) -> Refreshed:
        refresh = credential.secrets.get("refresh", "")
        if not refresh:
            raise AuthError(gettext_noop("X gave no refresh token (offline.access was not granted): sign in again."))
        tokens = oauth.token_request(
            f"{self.api}/2/oauth2/token",
            {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": settings.TANDEM_X_CLIENT_ID},
            config=self.channel.config,
            basic=client_auth(),
        )
        if not tokens.refresh:
            raise AuthError(gettext_noop("X answered a refresh without a new refresh token: sign in again."))
        return Refreshed(
            secrets={**credential.secrets, "secret": tokens.access, "refresh": tokens.refresh},
            expires_at=tokens.expires_at,
        )

    def revoke(self, credential: Credential) -> None:
        # Revoking the refresh token ends the whole grant; the access token is revoked too.
        for kind in ("refresh", "secret"):
            token = credential.secrets.get(kind, "")
            if token:
                oauth.json_request(
                    "POST",
                    f"{self.api}/2/oauth2/revoke",
                    config=self.channel.config,
                    secrets=(token, settings.TANDEM_X_CLIENT_SECRET),
                    data={
                        "token": token,
                        "token_type_hint": "refresh_token" if kind == "refresh" else "access_token",
                        "client_id": settings.TANDEM_X_CLIENT_ID,
                    },
                    auth=httpx.BasicAuth(*client_auth()),
                )

    def fetch_replies(self, cursor: Cursor | None) -> tuple[list[InboundItem], Cursor]:
        position = dict(cursor or {})
        user = str(self.channel.config.get("user_id", ""))
        if not user:
            raise PermanentError(gettext_noop("The channel's X user id is not configured (user_id)."))
        walk: dict[str, Any] | None = position.get("walk")
        params: dict[str, Any] = {
            "max_results": MENTIONS_PAGE,
            "tweet.fields": "created_at,author_id,referenced_tweets,conversation_id",
            "expansions": "author_id",
            "user.fields": "username",
        }
        if position.get("since_id"):
            params["since_id"] = position["since_id"]
        elif position.get("start_time"):
            params["start_time"] = position["start_time"]
        if walk:
            params["pagination_token"] = walk["token"]
        token = channel_secret(self.channel)
        with self._session(token) as http:
            body = http.request("GET", f"{self.api}/2/users/{user}/mentions", params=params).json()
        tweets = [t for t in body.get("data") or [] if isinstance(t, dict)]
        meta = body.get("meta") or {}
        users = {u.get("id"): u.get("username", "") for u in (body.get("includes") or {}).get("users", [])}
        newest = (walk or {}).get("newest") or meta.get("newest_id")
        items = [self._mention(t, users) for t in tweets]
        first = not position.get("since_id") and not position.get("start_time") and not walk
        if first and not tweets:
            # Nothing yet: from now on everything is new, however much arrives before the next read.
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            return [], {"start_time": now}
        if first or not meta.get("next_token"):
            done = {"since_id": newest} if newest else {k: v for k, v in position.items() if k != "walk"}
            return items, done
        return items, {
            **{k: v for k, v in position.items() if k != "walk"},
            "walk": {"newest": newest, "token": meta["next_token"]},
        }

    def fetch_metrics(self, receipt: Receipt) -> dict[str, int]:
        """The post's public metrics (GET /2/tweets?ids=…&tweet.fields=public_metrics): likes,
        reposts, replies, quotes, and views (impression_count, where X gives it). A deleted post
        comes back as an error beside no data: PermanentError (nothing more to read)."""
        token = channel_secret(self.channel)
        params = {"ids": receipt.remote_id, "tweet.fields": "public_metrics"}
        with self._session(token) as http:
            body = http.request("GET", f"{self.api}/2/tweets", params=params).json()
        tweet = next((t for t in body.get("data") or [] if str(t.get("id")) == receipt.remote_id), None)
        if tweet is None:
            problems = "; ".join(str(e.get("detail") or e.get("title") or "") for e in body.get("errors") or [])
            raise PermanentError(f"X has no post {receipt.remote_id}: {problems or 'not found'}")
        metrics = tweet.get("public_metrics") or {}
        figures = {name: int(metrics[key]) for key, name in PUBLIC_METRICS.items() if metrics.get(key) is not None}
        return figures

    def _mention(self, tweet: dict[str, Any], users: dict[Any, str]) -> InboundItem:
        parent = next((str(r["id"]) for r in tweet.get("referenced_tweets") or [] if r.get("type") == "replied_to"), "")
        quoted = next((str(r["id"]) for r in tweet.get("referenced_tweets") or [] if r.get("type") == "quoted"), "")
        username = users.get(tweet.get("author_id"), "")
        answers = tuple(a for a in (parent, str(tweet.get("conversation_id") or "")) if a) or (
            (quoted,) if quoted else ()
        )
        return InboundItem(
            remote_id=str(tweet["id"]),
            author_handle=f"@{username}" if username else str(tweet.get("author_id", "")),
            text=str(tweet.get("text", "")),
            posted_at=datetime.fromisoformat(str(tweet["created_at"]).replace("Z", "+00:00")),
            url=f"https://x.com/{username or 'i'}/status/{tweet['id']}",
            kind="reply" if parent else ("quote" if quoted else "mention"),
            answers=answers,
        )


def client_auth() -> tuple[str, str]:
    return settings.TANDEM_X_CLIENT_ID, settings.TANDEM_X_CLIENT_SECRET


def authorize_url(*, redirect_uri: str, state: str, challenge: str) -> str:
    query = {
        "response_type": "code",
        "client_id": settings.TANDEM_X_CLIENT_ID,
        "redirect_uri": redirect_uri,
        "scope": SCOPES,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return f"{settings.TANDEM_X_AUTHORIZE_URL}?{urlencode(query)}"


def token_from_code(api: str, *, redirect_uri: str, code: str, verifier: str) -> oauth.TokenSet:
    return oauth.token_request(
        f"{api}/2/oauth2/token",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
            "client_id": settings.TANDEM_X_CLIENT_ID,
        },
        config={"api_url": api},
        basic=client_auth(),
    )


def username_of(api: str, token: str) -> str:
    """The signed-in user's @name (GET /2/users/me)."""
    body = oauth.json_request("GET", f"{api}/2/users/me", config={"api_url": api}, bearer=token)
    data = body.get("data") if isinstance(body, dict) else None
    username = data.get("username") if isinstance(data, dict) else None
    if not isinstance(username, str) or not username:
        raise PermanentError(gettext_noop("X did not say which account signed in."))
    return username


MENTIONS_PAGE = 100
# X's public_metrics (docs.x.com fundamentals/fields, Post fields) under the names the
# engagement pages use; bookmark_count has no column there.
PUBLIC_METRICS = {
    "like_count": "likes",
    "retweet_count": "reposts",
    "reply_count": "replies",
    "quote_count": "quotes",
    "impression_count": "views",
}
