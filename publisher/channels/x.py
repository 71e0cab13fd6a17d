"""X (API v2): media upload, alt text through /2/media/metadata, then POST /2/tweets.

Length is twitter-text v3's weighted count (280; every URL 23, with or without a scheme;
emoji and non-Latin 2), computed by the maintained port `twitter-text-parser`.
X has no idempotency key and refuses an identical text with 403 "duplicate content": after
an unknown outcome that answer most likely means our first attempt went out, so it is
reported as UnknownOutcome, never as an authentication failure.

Channel.config: api_url (default https://api.x.com), username (for links).
Secret: an OAuth 2.0 user access token (tweet.write, media.write).
"""

from __future__ import annotations

import httpx

from publisher.channels.base import (
    ChannelAdapter,
    ChannelError,
    Limits,
    PermanentError,
    Post,
    Problem,
    Receipt,
    TextCount,
    UnknownOutcome,
    links_shown,
)
from publisher.channels.checking import count_problems, image_problems
from publisher.channels.counting import X_MAX, compose, x_cut, x_text, x_urls, x_weighted_length
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
        # Timelines show a single image about 600 px wide on the web [inference: column widths].
        image_shown_width=600,
    )
    supports_replies = True
    supports_retract = True

    @property
    def api(self) -> str:
        return str(self.channel.config.get("api_url", "https://api.x.com")).rstrip("/")

    def measure(self, post: Post) -> TextCount:
        sent = compose(post.text, post.link)
        text = x_text(sent)
        # t.co prints a link without its scheme, cut after about 25 characters.
        return TextCount(
            text=text,
            count=x_weighted_length(sent),
            limit=X_MAX,
            unit="weighted",
            cut=x_cut(sent),
            links=links_shown(text, keep=25, spans=x_urls(sent)),
            rule="x",
        )

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
