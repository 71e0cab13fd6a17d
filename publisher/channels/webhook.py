"""Outgoing webhook per Standard Webhooks (signed with the `standardwebhooks` package).

`webhook-id` is the idempotency key, the same on every retry, so the receiver
de-duplicates; the timestamp and signature are made fresh per attempt over the exact bytes
sent. 2xx is success; a redirect is a failure (never followed); 410 Gone raises `Gone`, and
the publish task disables the channel (services.channel_disable); 429/502/504 honour
Retry-After. Images go as URLs of our renditions, not as bytes.

Channel.config: url. Secret: the `whsec_…` signing secret, made by Tandem when connected
from the admin. After a rotation the former secret ("previous", until "previous_until") also
signs: `webhook-signature` carries both ("v1,<new> v1,<old>"), so a receiver still holding
the old secret verifies every event of the overlap.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from standardwebhooks.webhooks import Webhook

from publisher.channels.base import ChannelAdapter, Limits, PermanentError, Post, Problem, Receipt
from publisher.channels.credentials import credential_get
from publisher.channels.http import HttpSession
from publisher.channels.secrets import channel_secret
from publisher.media.images import RenditionSpec, rendition_for, rendition_url
from publisher.models import ConnectFlow


class WebhookAdapter(ChannelAdapter):
    kind = "webhook"
    label = "Webhook"
    url_fields = ("url",)
    limits = Limits(
        images_max=20,
        image_bytes_max=5 * 1024 * 1024,
        image_side_max=2048,
        image_formats=("JPEG", "PNG"),
    )
    supports_idempotency = True
    connect_flow = ConnectFlow.WEBHOOK_SECRET
    supports_replies = True
    supports_retract = True
    supports_edit = True

    def preview_summary(self, post: Post) -> tuple[tuple[str, str], ...]:
        # The receiver's URL stays out: it may carry the receiver's own token.
        return ((_("Event"), "message.published"), (_("Images"), str(len(post.images))))

    def check(self, post: Post) -> list[Problem]:
        if not self.channel.config.get("url"):
            return [Problem(code="not_configured", message=_("the webhook URL is missing"))]
        return []

    def payload(self, post: Post, *, event: str = "message.published") -> dict[str, Any]:
        spec = RenditionSpec.from_limits(self.limits)
        images = []
        for image in post.images:
            rendition = rendition_for(image.path, spec, kind=self.kind)
            images.append(
                {
                    "url": rendition_url(rendition),
                    "alt": image.alt,
                    "mime_type": rendition.mime_type,
                    "width": rendition.width,
                    "height": rendition.height,
                    "size": rendition.size,
                }
            )
        return {
            "type": event,
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "data": {
                "message_id": post.message_id,
                "delivery_id": post.delivery_id,
                "channel": self.channel.name,
                "language": post.language,
                "title": post.title,
                "text": post.text,
                "link": post.link,
                "urgent": post.urgent,
                "exercise": post.exercise,
                "reply_to": post.reply_to.remote_id if post.reply_to else None,
                "images": images,
                "cap": post.cap,
            },
        }

    def signing_secrets(self, now: datetime | None = None) -> list[str]:
        """The secrets that sign now: the current one, and the former one during the overlap."""
        current = channel_secret(self.channel)
        stored = credential_get(self.channel)
        if stored is None or not stored.secrets.get("previous"):
            return [current]
        try:
            until = datetime.fromisoformat(stored.secrets.get("previous_until", ""))
        except ValueError:
            return [current]
        return [current, stored.secrets["previous"]] if (now or datetime.now(UTC)) < until else [current]

    def send(self, webhook_id: str, payload: dict[str, Any]) -> None:
        keys = self.signing_secrets()
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        timestamp = datetime.fromtimestamp(int(time.time()), tz=UTC)
        # The spec forbids "." in the id (it separates the signed parts).
        webhook_id = webhook_id.replace(".", "-")
        headers = {
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(timestamp.timestamp())),
            "webhook-signature": " ".join(Webhook(key).sign(webhook_id, timestamp, body) for key in keys),
            "Content-Type": "application/json",
        }
        with HttpSession(config=self.channel.config, secrets=keys) as http:
            # The receiver de-duplicates on webhook-id: a retry after a timeout is safe.
            http.request(
                "POST",
                self.channel.config["url"],
                content=body.encode("utf-8"),
                headers=headers,
                creates_post=True,
                deduplicated=True,
            )

    def publish(self, post: Post, idempotency_key: str) -> Receipt:
        payload = self.payload(post)
        if post.exercise:
            return self.exercise_receipt(post, idempotency_key, payload)
        if not self.channel.config.get("url"):
            raise PermanentError(gettext_noop("The webhook channel has no URL."))
        self.send(idempotency_key, payload)
        return Receipt(remote_id=idempotency_key.replace(".", "-"), extra={"webhook_id": idempotency_key})

    def edit(self, receipt: Receipt, post: Post, idempotency_key: str) -> Receipt:
        """A `message.updated` event: the corrected text of the event named in `data.updates`
        (the receiver replaces it). Its own webhook-id is this delivery's key, so a retry is
        de-duplicated like any other event."""
        payload = self.payload(post, event="message.updated")
        payload["data"]["updates"] = receipt.remote_id
        if post.exercise:
            return self.exercise_receipt(post, idempotency_key, payload)
        if not self.channel.config.get("url"):
            raise PermanentError(gettext_noop("The webhook channel has no URL."))
        self.send(idempotency_key, payload)
        return Receipt(remote_id=receipt.remote_id, extra={"webhook_id": idempotency_key.replace(".", "-")})

    def retract(self, receipt: Receipt) -> None:
        """Tell the receiver the earlier event is withdrawn (it owns what happens next)."""
        payload = {
            "type": "message.retracted",
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "data": {"webhook_id": receipt.remote_id},
        }
        self.send(f"{receipt.remote_id}-retracted", payload)
