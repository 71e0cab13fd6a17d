"""X (API v2): media upload, alt text through /2/media/metadata, then POST /2/tweets.

Length is twitter-text v3's weighted count (280; every URL 23; emoji and non-Latin 2).
X has no idempotency key and refuses an identical text with 403 "duplicate content": after
an unknown outcome that answer most likely means our first attempt went out, so it is
reported as UnknownOutcome, never as an authentication failure.

Channel.config: api_url (default https://api.x.com), username (for links), user_id (the
account's numeric id, for the inbox). Secret: an OAuth 2.0 user access token (tweet.write,
media.write; tweet.read and users.read for the inbox).

Inbox: GET /2/users/:id/mentions (replies to our posts mention us) pages from the newest back
to `since_id`; the walk's `pagination_token` is kept, so a walk stopped half-way resumes at
its next page, and only a finished walk moves `since_id` to the newest mention it met.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from publisher.channels.base import (
    ChannelAdapter,
    ChannelError,
    Cursor,
    InboundItem,
    Limits,
    PermanentError,
    Post,
    Problem,
    Receipt,
    UnknownOutcome,
)
from publisher.channels.checking import standard_problems
from publisher.channels.counting import X_MAX, compose, x_weighted_length
from publisher.channels.http import HttpSession, error_text, from_response, parse_reset, parse_retry_after
from publisher.channels.secrets import channel_secret
from publisher.media.images import RenditionSpec, rendition_for


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
    )
    supports_replies = True
    supports_retract = True
    supports_inbox = True

    @property
    def api(self) -> str:
        return str(self.channel.config.get("api_url", "https://api.x.com")).rstrip("/")

    def check(self, post: Post) -> list[Problem]:
        return standard_problems(post, self.limits, x_weighted_length(compose(post.text, post.link)))

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

    def fetch_replies(self, cursor: Cursor | None) -> tuple[list[InboundItem], Cursor]:
        position = dict(cursor or {})
        user = str(self.channel.config.get("user_id", ""))
        if not user:
            raise PermanentError("The channel's X user id is not configured (user_id).")
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


MENTIONS_PAGE = 100
