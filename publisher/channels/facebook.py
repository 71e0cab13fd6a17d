"""Facebook Page (Graph API): each image uploaded unpublished (with `alt_text_custom`),
then one `/feed` post attaching them (`attached_media[n]`), so the post is created by a
single call. Follow-ups are comments on the original post.

Graph errors are `{"error": {message, type, code, error_subcode, is_transient}}`: code 190
is an invalid or expired token; 4, 17, 32, 613 and 80001 are rate limits (the wait is read
from X-Business-Use-Case-Usage); 1, 2 and `is_transient` are worth retrying.

Channel.config: page_id, graph_url (default https://graph.facebook.com/v21.0), images_max.
Secret: the Page access token (sent as a Bearer header, never in a URL).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from publisher.channels.base import (
    ChannelAdapter,
    Limits,
    PermanentError,
    Post,
    Problem,
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
