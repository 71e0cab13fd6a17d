"""Facebook Page (Graph API): each image uploaded unpublished (with `alt_text_custom`),
then one `/feed` post attaching them (`attached_media[n]`), so the post is created by a
single call. Follow-ups are comments on the original post.

Graph errors are `{"error": {message, type, code, error_subcode, is_transient}}`: code 190
is an invalid or expired token; 4, 17, 32, 613 and 80001 are rate limits (the wait is read
from X-Business-Use-Case-Usage); 1, 2 and `is_transient` are worth retrying.

Channel.config: page_id, graph_url (default https://graph.facebook.com/v21.0), images_max.
Secret: the Page access token (sent as a Bearer header, never in a URL).

Inbox: the comments on the Page's recent posts (the cursor's "watch" list), read post by post
with GET /{post-id}/comments in chronological order (filter=stream: replies to comments
too); each post's `after` paging cursor is kept, so the next read starts after the last
comment stored. The Page's own comments (our answers, follow-ups) are not inbox items.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any

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
)
from publisher.channels.checking import count_problems, image_problems
from publisher.channels.counting import compose
from publisher.channels.graph import graph_error
from publisher.channels.http import HttpSession
from publisher.channels.secrets import channel_secret
from publisher.media.images import RenditionSpec, rendition_for
from publisher.models import ConnectFlow


class FacebookAdapter(ChannelAdapter):
    kind = "facebook"
    default_endpoint = "https://graph.facebook.com"
    label = "Facebook"
    url_fields = ("graph_url",)
    # Meta login (publisher/channels/meta.py): a Page token that does not expire.
    connect_flow = ConnectFlow.OAUTH
    # The text limit is not documented (63,206 is folklore); images per post neither (≤ 4 is safe).
    limits = Limits(
        text_max=63_206,
        images_max=4,
        image_bytes_max=4_000_000,
        image_side_max=2048,
        image_formats=("JPEG", "PNG"),
        # Timelines show a single image about 600 px wide on the web [inference: column widths].
        image_shown_width=600,
    )
    supports_replies = True
    supports_retract = True
    supports_edit = True
    supports_inbox = True
    inbox_watches_posts = True
    supports_metrics = True

    @property
    def graph(self) -> str:
        return str(self.channel.config.get("graph_url", "https://graph.facebook.com/v21.0")).rstrip("/")

    def effective_limits(self) -> Limits:
        return replace(self.limits, images_max=int(self.channel.config.get("images_max", self.limits.images_max)))

    def limits_in_force(self) -> Limits:
        return self.effective_limits()

    def check(self, post: Post) -> list[Problem]:
        return count_problems(self.measure(post)) + image_problems(post, self.effective_limits())

    def _session(self, token: str) -> HttpSession:
        return HttpSession(
            config=self.channel.config,
            secrets=[token],
            to_error=lambda response: graph_error(response, token),
            headers={"Authorization": f"Bearer {token}"},
        )

    def publish(self, post: Post, idempotency_key: str) -> Receipt:
        text = compose(post.text, post.link)
        page = self.channel.config.get("page_id", "")
        if post.exercise:
            return self.exercise_receipt(post, idempotency_key, {"page_id": page, "message": text})
        blocking = [p.message for p in self.check(post) if p.severity == "error"]
        if blocking:
            raise PermanentError("; ".join(blocking))
        token = channel_secret(self.channel)
        with self._session(token) as http:
            if post.reply_to:
                # A follow-up is a comment on the original post: the same thread.
                response = http.request(
                    "POST",
                    f"{self.graph}/{post.reply_to.remote_id}/comments",
                    data={"message": text},
                    creates_post=True,
                )
                comment_id = str(response.json()["id"])
                return Receipt(
                    remote_id=comment_id, url=f"https://www.facebook.com/{comment_id}", extra={"comment": True}
                )
            spec = RenditionSpec.from_limits(self.effective_limits())
            photo_ids = []
            for image in post.images:
                rendition = rendition_for(image.path, spec, kind=self.kind)
                # Unpublished photos live ~24 h; a retry uploads again rather than reuse them.
                response = http.request(
                    "POST",
                    f"{self.graph}/{page}/photos",
                    data={"published": "false", "alt_text_custom": image.alt},
                    files={"source": (rendition.name, rendition.read(), rendition.mime_type)},
                )
                photo_ids.append(str(response.json()["id"]))
            form: dict[str, Any] = {"message": text}
            for index, photo_id in enumerate(photo_ids):
                form[f"attached_media[{index}]"] = json.dumps({"media_fbid": photo_id})
            response = http.request("POST", f"{self.graph}/{page}/feed", data=form, creates_post=True)
            post_id = str(response.json()["id"])
        return Receipt(remote_id=post_id, url=f"https://www.facebook.com/{post_id}", extra={"photos": photo_ids})

    def edit(self, receipt: Receipt, post: Post, idempotency_key: str) -> Receipt:
        """Update the Page post (or the follow-up comment) in place: POST /{id} with `message`.
        Its photos stay; the same message again is harmless."""
        text = compose(post.text, post.link)
        if post.exercise:
            return self.exercise_receipt(post, idempotency_key, {"edits": receipt.remote_id, "message": text})
        blocking = [p.message for p in self.check(replace(post, images=())) if p.severity == "error"]
        if blocking:
            raise PermanentError("; ".join(blocking))
        token = channel_secret(self.channel)
        with self._session(token) as http:
            response = http.request("POST", f"{self.graph}/{receipt.remote_id}", data={"message": text})
            if response.json().get("success") is not True:
                raise PermanentError(f"Facebook did not confirm the update of {receipt.remote_id}.")
        return Receipt(remote_id=receipt.remote_id, url=receipt.url, extra={"updated": True})

    def retract(self, receipt: Receipt) -> None:
        token = channel_secret(self.channel)
        with self._session(token) as http:
            http.request("DELETE", f"{self.graph}/{receipt.remote_id}")

    def fetch_replies(self, cursor: Cursor | None) -> tuple[list[InboundItem], Cursor]:
        """One page of new comments on each watched post. A rate limit after some posts were
        read keeps what was read (their cursors move); the next call meets the limit again."""
        position = dict(cursor or {})
        watch = [str(post_id) for post_id in position.get("watch") or []]
        known = position.get("posts") or {}
        posts = {post_id: dict(known.get(post_id) or {}) for post_id in watch}
        page = str(self.channel.config.get("page_id", ""))
        items: list[InboundItem] = []
        token = channel_secret(self.channel)
        with self._session(token) as http:
            for post_id in watch:
                params: dict[str, Any] = {
                    "fields": "id,message,created_time,from,permalink_url,parent",
                    "filter": "stream",
                    "order": "chronological",
                    "limit": COMMENTS_PAGE,
                }
                if posts[post_id].get("after"):
                    params["after"] = posts[post_id]["after"]
                try:
                    response = http.request("GET", f"{self.graph}/{post_id}/comments", params=params)
                except RateLimited:
                    if items:
                        break
                    raise
                body = response.json()
                comments = [c for c in body.get("data") or [] if isinstance(c, dict)]
                after = ((body.get("paging") or {}).get("cursors") or {}).get("after")
                if comments and after:
                    posts[post_id]["after"] = str(after)
                items += [_comment(c, post_id) for c in comments if str((c.get("from") or {}).get("id")) != page]
        return items, {**position, "posts": posts}

    def fetch_metrics(self, receipt: Receipt) -> dict[str, int]:
        """Reactions, comments and shares of the post, and its reach (unique people it was shown
        to, from the post's insights; left out when the Page token may not read insights)."""
        token = channel_secret(self.channel)
        fields = "shares,comments.summary(true).limit(0),reactions.summary(true).limit(0)"
        with self._session(token) as http:
            post = http.request("GET", f"{self.graph}/{receipt.remote_id}", params={"fields": fields}).json()
            insights = http.request(
                "GET",
                f"{self.graph}/{receipt.remote_id}/insights",
                params={"metric": "post_impressions_unique"},
                check=False,
            )
        figures = {
            "likes": _total(post.get("reactions")),
            "replies": _total(post.get("comments")),
            "reposts": int((post.get("shares") or {}).get("count", 0)),
        }
        if insights.is_success:
            for metric in insights.json().get("data") or []:
                values = metric.get("values") or []
                if metric.get("name") == "post_impressions_unique" and values:
                    figures["reach"] = int(values[-1].get("value", 0))
        return figures


def _total(edge: Any) -> int:
    summary = (edge or {}).get("summary") or {}
    return int(summary.get("total_count", 0))


COMMENTS_PAGE = 100


def _comment(comment: dict[str, Any], post_id: str) -> InboundItem:
    parent = (comment.get("parent") or {}).get("id")
    comment_id = str(comment["id"])
    return InboundItem(
        remote_id=comment_id,
        author_handle=str((comment.get("from") or {}).get("name", "")),
        text=str(comment.get("message", "")),
        posted_at=datetime.strptime(str(comment["created_time"]), "%Y-%m-%dT%H:%M:%S%z"),
        url=str(comment.get("permalink_url") or f"https://www.facebook.com/{comment_id}"),
        kind="comment",
        answers=(str(parent), post_id) if parent else (post_id,),
    )
