"""Atom feed per language, served by Tandem at /feeds/<language or channel id>.atom.

Nothing is pushed: "publishing" makes the image renditions the entry links as enclosures
and records them in the receipt; the feed lists the channel's sent deliveries. Retracting
is the delivery leaving the `sent` state, so the adapter has nothing to call.
"""

from __future__ import annotations

from publisher.channels.base import ChannelAdapter, Limits, Post, Problem, Receipt
from publisher.channels.public import public_host, public_url
from publisher.media.images import RenditionSpec, rendition_for, rendition_url


class AtomAdapter(ChannelAdapter):
    kind = "atom"
    label = "Atom"
    limits = Limits(images_max=10, image_bytes_max=2_000_000, image_side_max=2048, image_formats=("JPEG", "PNG"))
    supports_idempotency = True
    supports_replies = True
    supports_retract = True
    # A correction updates the entry: the feed shows it under the original's atom:id with a
    # newer atom:updated (RFC 4287 §4.1.1: entries with one id are one entry).
    supports_edit = True

    def check(self, post: Post) -> list[Problem]:
        return []

    def publish(self, post: Post, idempotency_key: str) -> Receipt:
        spec = RenditionSpec.from_limits(self.limits)
        images = []
        for image in post.images:
            rendition = rendition_for(image.path, spec, kind=self.kind)
            images.append(
                {
                    "url": rendition_url(rendition),
                    "mime_type": rendition.mime_type,
                    "size": rendition.size,
                    "alt": image.alt,
                }
            )
        if post.exercise:
            return self.exercise_receipt(post, idempotency_key, {"images": images})
        feed = public_url(f"/feeds/{self.channel.pk}.atom")
        return Receipt(remote_id=f"tag:{public_host()}:{idempotency_key}", url=feed, extra={"images": images})

    def edit(self, receipt: Receipt, post: Post, idempotency_key: str) -> Receipt:
        # The entry keeps the original's images (a correction changes its text).
        extra = {"images": list(receipt.extra.get("images") or [])}
        if post.exercise:
            return self.exercise_receipt(post, idempotency_key, extra)
        return Receipt(remote_id=receipt.remote_id, url=receipt.url, extra=extra)

    def retract(self, receipt: Receipt) -> None:
        return None
