"""Instagram (Graph API content publishing): containers, then media_publish.

Instagram fetches each image from a public URL: ours (TANDEM_PUBLIC_URL + the rendition's
path, served by feed_views.rendition). JPEG only, ≤ 8 MB, aspect ratio 4:5 to 1.91:1
(padded, never cropped), width ≤ 1440; at least one image; caption ≤ 2200 characters,
30 hashtags and 20 @-mentions; a carousel holds up to 10 images. Each container is polled
until FINISHED before publishing; the daily publishing quota is read first.

A follow-up (an update, an all-clear, a correction: Instagram cannot edit a caption through
this API) is a comment on the original post: text only.

Channel.config: ig_user_id, graph_url (default https://graph.facebook.com/v21.0),
poll_interval, poll_timeout. Secret: the user access token.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from typing import Any

from django.utils.translation import gettext as _

from publisher.channels.base import (
    ChannelAdapter,
    Limits,
    PermanentError,
    Post,
    Problem,
    RateLimited,
    Receipt,
    TextCount,
    TransientError,
    UnknownOutcome,
    links_shown,
)
from publisher.channels.checking import count_problems, image_problems
from publisher.channels.counting import code_points, compose, cut_at
from publisher.channels.graph import graph_error
from publisher.channels.http import HttpSession
from publisher.channels.secrets import channel_secret
from publisher.media.images import RenditionSpec, rendition_for, rendition_url
from publisher.models import ConnectFlow

HASHTAG_RE = re.compile(r"(?<!\w)#\w+")
MENTION_RE = re.compile(r"(?<!\w)@[\w.]+")


class InstagramAdapter(ChannelAdapter):
    kind = "instagram"
    default_endpoint = "https://graph.facebook.com"
    label = "Instagram"
    url_fields = ("graph_url",)
    # Meta login (publisher/channels/meta.py): the linked Page's token, which does not expire.
    connect_flow = ConnectFlow.OAUTH
    limits = Limits(
        text_max=2200,
        images_max=10,
        image_bytes_max=8 * 1024 * 1024,
        image_side_max=1440,
        image_aspect_min=0.8,
        image_aspect_max=1.91,
        image_width_min=320,
        image_formats=("JPEG",),
        images_required=True,
        # Instagram keeps widths of 320-1080 px as sent and enlarges narrower ones to 320 (Help
        # Center, as quoted by third parties [secondary]); a feed fills a phone's width, about
        # 1080 device pixels, so below that the picture is stretched there [inference].
        image_shown_width=1080,
    )
    supports_replies = True
    supports_retract = False

    @property
    def graph(self) -> str:
        return str(self.channel.config.get("graph_url", "https://graph.facebook.com/v21.0")).rstrip("/")

    def measure(self, post: Post) -> TextCount:
        text = compose(post.text, post.link)
        limit = self.limits.text_max or 2200
        # A caption's links are printed in full and are not clickable.
        return TextCount(
            text=text,
            count=code_points(text),
            limit=limit,
            cut=cut_at(text, code_points, limit),
            links=links_shown(text, clickable=False),
            rule="instagram",
        )

    def check(self, post: Post) -> list[Problem]:
        text = compose(post.text, post.link)
        if post.reply_to is not None:
            # A comment: text only, no image needed (nor sent).
            return count_problems(self.measure(post)) + image_problems(
                replace(post, images=()), replace(self.limits, images_required=False)
            )
        problems = count_problems(self.measure(post)) + image_problems(post, self.limits)
        for pattern, limit, what in ((HASHTAG_RE, 30, _("hashtags")), (MENTION_RE, 20, _("@-mentions"))):
            count = len(pattern.findall(text))
            if count > limit:
                problems.append(
                    Problem(
                        "too_many_tags",
                        _("%(count)s/%(limit)s %(what)s") % {"count": count, "limit": limit, "what": what},
                    )
                )
        return problems

    def _container(self, http: HttpSession, user: str, fields: dict[str, Any]) -> str:
        response = http.request("POST", f"{self.graph}/{user}/media", data=fields)
        return str(response.json()["id"])

    def _wait_finished(self, http: HttpSession, container: str) -> None:
        interval = float(self.channel.config.get("poll_interval", 2.0))
        deadline = time.monotonic() + float(self.channel.config.get("poll_timeout", 300.0))
        while True:
            status = http.request("GET", f"{self.graph}/{container}", params={"fields": "status_code,status"}).json()
            code = status.get("status_code")
            if code in ("FINISHED", "PUBLISHED"):
                return
            if code == "ERROR":
                raise PermanentError(f"Instagram could not process the media: {status.get('status', 'ERROR')}")
            if code == "EXPIRED":
                raise TransientError("The Instagram container expired before publishing.")
            if time.monotonic() > deadline:
                raise TransientError(f"Instagram container {container} still {code} after the deadline.")
            time.sleep(interval)

    def _check_quota(self, http: HttpSession, user: str) -> None:
        body = http.request(
            "GET", f"{self.graph}/{user}/content_publishing_limit", params={"fields": "quota_usage,config"}
        ).json()
        entries = body.get("data") or [{}]
        usage = entries[0].get("quota_usage", 0)
        config = entries[0].get("config", {})
        total = config.get("quota_total")
        if total is not None and usage >= total:
            raise RateLimited(
                f"Instagram publishing quota used: {usage}/{total}",
                retry_after=float(config.get("quota_duration", 3600)),
            )

    def _comment(self, post: Post, idempotency_key: str) -> Receipt:
        assert post.reply_to is not None  # noqa: S101 - only called for a reply
        message = compose(post.text, post.link)
        if post.exercise:
            return self.exercise_receipt(post, idempotency_key, {"comment_on": post.reply_to.remote_id})
        blocking = [p.message for p in self.check(post) if p.severity == "error"]
        if blocking:
            raise PermanentError("; ".join(blocking))
        token = channel_secret(self.channel)
        with HttpSession(
            config=self.channel.config,
            secrets=[token],
            to_error=lambda response: graph_error(response, token),
            headers={"Authorization": f"Bearer {token}"},
        ) as http:
            response = http.request(
                "POST", f"{self.graph}/{post.reply_to.remote_id}/comments", data={"message": message}, creates_post=True
            )
        return Receipt(remote_id=str(response.json()["id"]), url=post.reply_to.url, extra={"comment": True})

    def publish(self, post: Post, idempotency_key: str) -> Receipt:
        if post.reply_to is not None:
            return self._comment(post, idempotency_key)
        caption = compose(post.text, post.link)
        spec = RenditionSpec.from_limits(self.limits)
        renditions = [(rendition_for(image.path, spec, kind=self.kind), image.alt) for image in post.images]
        urls = [rendition_url(r) for r, _alt in renditions]
        if post.exercise:
            return self.exercise_receipt(post, idempotency_key, {"caption": caption, "image_urls": urls})
        blocking = [p.message for p in self.check(post) if p.severity == "error"]
        if blocking:
            raise PermanentError("; ".join(blocking))
        token = channel_secret(self.channel)
        user = str(self.channel.config.get("ig_user_id", ""))
        with HttpSession(
            config=self.channel.config,
            secrets=[token],
            to_error=lambda response: graph_error(response, token),
            headers={"Authorization": f"Bearer {token}"},
        ) as http:
            self._check_quota(http, user)
            if len(renditions) == 1:
                container = self._container(
                    http, user, {"image_url": urls[0], "caption": caption, "alt_text": renditions[0][1]}
                )
            else:
                children = []
                for url, (_rendition, alt) in zip(urls, renditions, strict=True):
                    child = self._container(http, user, {"image_url": url, "is_carousel_item": "true", "alt_text": alt})
                    self._wait_finished(http, child)
                    children.append(child)
                container = self._container(
                    http, user, {"media_type": "CAROUSEL", "children": ",".join(children), "caption": caption}
                )
            self._wait_finished(http, container)
            try:
                response = http.request(
                    "POST", f"{self.graph}/{user}/media_publish", data={"creation_id": container}, creates_post=True
                )
            except UnknownOutcome as exc:
                raise UnknownOutcome(f"{exc.message}; check container {container} before publishing again") from exc
            media_id = str(response.json()["id"])
            link = http.request("GET", f"{self.graph}/{media_id}", params={"fields": "permalink"}, check=False)
            permalink = link.json().get("permalink", "") if link.is_success else ""
        return Receipt(remote_id=media_id, url=permalink, extra={"container": container})
