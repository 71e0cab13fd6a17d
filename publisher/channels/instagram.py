"""Instagram (Graph API content publishing): containers, then media_publish.

Instagram fetches each image from a public URL: ours (TANDEM_PUBLIC_URL + the rendition's
path, served by feed_views.rendition). JPEG only, ≤ 8 MB, aspect ratio 4:5 to 1.91:1
(padded, never cropped), width ≤ 1440; at least one image; caption ≤ 2200 characters,
30 hashtags and 20 @-mentions; a carousel holds up to 10 images. Each container is polled
until FINISHED before publishing; the daily publishing quota is read first.

A follow-up (an update, an all-clear, a correction: Instagram cannot edit a caption through
this API) is a comment on the original post: text only.

Inbox (IG Media comments and IG Comment replies references): Instagram gives comments media
by media, so the inbox watches the channel's recent posts (``inbox_watches_posts``). For each
one, GET /{ig-media-id}/comments (top-level comments, newest first [secondary], answers under
each in its `replies` edge) is walked from the newest page down to the newest comment met by
the last finished walk; the walk's `after` cursor is kept, so a walk stopped half-way (a rate
limit, a crash) resumes at its next page, and only a finished walk moves the mark. An answer
under an older comment is read when that comment's page is read again: not before the next
walk reaches it (a known limit: the API lists answers only under their comment).
Our answers go to POST /{ig-comment-id}/replies (Instagram threads them under the top-level
comment), a follow-up on a post to POST /{ig-media-id}/comments.

Figures: like_count and comments_count of the media (answers included), and the insights
reach and views where the token may read insights (instagram_manage_insights); impressions
are no longer given for recent media (v22.0) and are not asked.

Channel.config: ig_user_id, username (the account's, to leave its own answers out of the
inbox), graph_url (default https://graph.facebook.com/v21.0), poll_interval, poll_timeout.
Secret: the user access token.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from publisher.channels.base import (
    ChannelAdapter,
    Cursor,
    InboundItem,
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
    supports_inbox = True
    inbox_watches_posts = True
    supports_metrics = True

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
                raise TransientError(gettext_noop("The Instagram container expired before publishing."))
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
        # An answer to a comment read in the inbox goes under that comment; anything else is a
        # comment on the post.
        answered = post.reply_to.extra.get("ig_comment")
        target = f"{answered}/replies" if answered else f"{post.reply_to.remote_id}/comments"
        with self._session(token) as http:
            response = http.request("POST", f"{self.graph}/{target}", data={"message": message}, creates_post=True)
        return Receipt(remote_id=str(response.json()["id"]), url=post.reply_to.url, extra={"comment": True})

    def _session(self, token: str) -> HttpSession:
        return HttpSession(
            config=self.channel.config,
            secrets=[token],
            to_error=lambda response: graph_error(response, token),
            headers={"Authorization": f"Bearer {token}"},
        )

    def fetch_replies(self, cursor: Cursor | None) -> tuple[list[InboundItem], Cursor]:
        """One page of comments on each watched media, walked down from the newest to the mark
        of the last finished walk. A rate limit after some media were read keeps what was
        read (their walks move); the next call meets the limit again."""
        position = dict(cursor or {})
        watch = [str(media_id) for media_id in position.get("watch") or []]
        known = position.get("media") or {}
        media = {media_id: dict(known.get(media_id) or {}) for media_id in watch}
        ours = str(self.channel.config.get("username", "")).lstrip("@").lower()
        items: list[InboundItem] = []
        token = channel_secret(self.channel)
        with self._session(token) as http:
            for media_id in watch:
                state = media[media_id]
                walk = state.get("walk") or {}
                params: dict[str, Any] = {"fields": COMMENT_FIELDS, "limit": COMMENTS_PAGE}
                if walk.get("after"):
                    params["after"] = walk["after"]
                try:
                    body = http.request("GET", f"{self.graph}/{media_id}/comments", params=params).json()
                except RateLimited:
                    if items:
                        break
                    raise
                comments = [c for c in body.get("data") or [] if isinstance(c, dict) and c.get("id")]
                mark = str(state.get("seen") or "")
                met = set(state.get("seen_ids") or [])

                def fresh(entry: dict[str, Any], mark: str = mark, met: set[str] = met) -> bool:
                    # Timestamps are to the second: at the mark's own second, the ids met then tell.
                    stamp = str(entry.get("timestamp", ""))
                    return not mark or stamp > mark or (stamp == mark and str(entry.get("id")) not in met)

                new = [c for c in comments if fresh(c)]
                for comment in comments:
                    if fresh(comment) and str(comment.get("username", "")).lower() != ours:
                        items.append(_comment(comment, (media_id,), str(comment["id"])))
                    for answer in (comment.get("replies") or {}).get("data") or []:
                        if fresh(answer) and str(answer.get("username", "")).lower() != ours:
                            items.append(_comment(answer, (str(comment["id"]), media_id), str(comment["id"])))
                paging = body.get("paging") or {}
                after = (paging.get("cursors") or {}).get("after")
                if walk:
                    top, top_ids = str(walk.get("top") or ""), list(walk.get("top_ids") or [])
                else:
                    # The newest thing on the first page, answers included: all that comes later
                    # is newer than this mark.
                    met_now = comments + [a for c in comments for a in (c.get("replies") or {}).get("data") or []]
                    top = max((str(c.get("timestamp", "")) for c in met_now), default="")
                    top_ids = [str(c["id"]) for c in met_now if str(c.get("timestamp", "")) == top]
                if paging.get("next") and after and len(new) == len(comments):
                    state["walk"] = {"after": str(after), "top": top, "top_ids": top_ids}
                else:
                    state.pop("walk", None)
                    if top and top > mark:
                        state["seen"], state["seen_ids"] = top, top_ids
                    elif top and top == mark:
                        state["seen_ids"] = sorted(met | set(top_ids))
        return items, {**position, "media": media}

    def fetch_metrics(self, receipt: Receipt) -> dict[str, int]:
        """Likes and comments of the media (answers included), and its reach and views from the
        insights where the token may read them and Instagram has them (none rather than 0)."""
        token = channel_secret(self.channel)
        with self._session(token) as http:
            media = http.request(
                "GET", f"{self.graph}/{receipt.remote_id}", params={"fields": "like_count,comments_count"}
            ).json()
            insights = http.request(
                "GET", f"{self.graph}/{receipt.remote_id}/insights", params={"metric": "reach,views"}, check=False
            )
        figures: dict[str, int] = {}
        if media.get("like_count") is not None:
            figures["likes"] = int(media["like_count"])
        if media.get("comments_count") is not None:
            figures["replies"] = int(media["comments_count"])
        if insights.is_success:
            for metric in insights.json().get("data") or []:
                values = metric.get("values") or []
                if metric.get("name") in ("reach", "views") and values and values[-1].get("value") is not None:
                    figures[str(metric["name"])] = int(values[-1]["value"])
        return figures

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


COMMENTS_PAGE = 50
COMMENT_FIELDS = "id,text,timestamp,username,replies{id,text,timestamp,username}"


def _comment(comment: dict[str, Any], answers: tuple[str, ...], top: str) -> InboundItem:
    username = str(comment.get("username") or "")
    return InboundItem(
        remote_id=str(comment["id"]),
        author_handle=f"@{username}" if username else "",
        text=str(comment.get("text") or ""),
        posted_at=datetime.strptime(str(comment["timestamp"]), "%Y-%m-%dT%H:%M:%S%z"),
        kind="comment",
        answers=answers,
        # An answer goes under the top-level comment (Instagram threads one level only).
        thread={"ig_comment": top},
    )
