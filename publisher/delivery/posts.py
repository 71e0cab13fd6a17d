"""Render a Delivery into the adapter contract's Post (no I/O beyond reading the database)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Prefetch

from publisher.channels import registry
from publisher.channels.base import Post, PostImage, Receipt
from publisher.channels.checks import correction_reply_text
from publisher.models import Attachment, Delivery, Language, MessageStatus, Occurrence, Variant


def deliveries_for_render(delivery_ids: Iterable[int], *, state: str | None = None) -> list[Delivery]:
    """Deliveries (in ``state`` if given) with everything ``post_build`` reads, in a fixed
    number of queries. Deliveries of one occurrence share its occurrence, message, variants
    and attachments: a burst of 10,000 posts of one alert builds them once, not 10,000 times."""
    rows = Delivery.objects.filter(pk__in=list(delivery_ids)).select_related(
        "channel", "channel__credential", "reply_to"
    )
    deliveries = list(rows.filter(state=state) if state else rows)
    occurrences = Occurrence.objects.filter(pk__in={d.occurrence_id for d in deliveries}).select_related("message")
    shared = {
        occurrence.pk: occurrence
        for occurrence in occurrences.prefetch_related(
            Prefetch("message__variants", queryset=Variant.objects.all()),
            Prefetch("message__attachments", queryset=Attachment.objects.order_by("position", "id")),
        )
    }
    for delivery in deliveries:
        delivery.occurrence = shared[delivery.occurrence_id]
    return deliveries


def receipt_of(delivery: Delivery) -> Receipt:
    """What an adapter needs to reply to or delete the post this delivery made."""
    extra = dict(delivery.receipt or {})
    extra.pop("rendered", None)
    return Receipt(remote_id=delivery.remote_id, url=delivery.remote_url, extra=extra)


def post_build(delivery: Delivery) -> Post:
    """The post for this delivery: its variant's text and link, its images with alt text
    in the variant's language, the receipt to reply to, the exercise and urgency flags."""
    message = delivery.occurrence.message
    variants = {v.language: v for v in message.variants.all()}
    variant = variants.get(delivery.language)
    if variant is None and delivery.language == Language.DE:
        variant = variants.get(Language.FR)
    if variant is None:
        raise LookupError(f"Message {message.pk} has no {delivery.language} variant.")
    images = tuple(
        PostImage(
            path=attachment.image.path,
            alt=attachment.alt_for(variant.language),
            width=attachment.width,
            height=attachment.height,
            format=attachment.format,
        )
        for attachment in message.attachments.all()
        if not attachment.language or attachment.language == variant.language
    )
    reply_to = receipt_of(delivery.reply_to) if delivery.reply_to and delivery.reply_to.remote_id else None
    return Post(
        text=correction_text(delivery, variant.text, variant.language) if message.is_correction else variant.text,
        language=variant.language,
        link=variant.link,
        images=images,
        title=message.title,
        message_id=message.pk,
        delivery_id=delivery.pk,
        reply_to=reply_to,
        correction=message.is_correction,
        exercise=message.status == MessageStatus.EXERCISE,
        urgent=delivery.urgent,
        cap=dict(message.cap or {}),
    )


def correction_text(delivery: Delivery, text: str, language: str) -> str:
    """A correction's text as this channel gets it: as written where the post is edited in
    place, announced as a correction where it is a reply."""
    adapter = registry.adapter_classes().get(delivery.channel.kind)
    if adapter is not None and adapter.supports_edit:
        return text
    return correction_reply_text(text, language)


def post_as_dict(post: Post) -> dict[str, object]:
    """A JSON-able record of a rendered post (exercise receipts, audit)."""
    return {
        "text": post.text,
        "language": post.language,
        "link": post.link,
        "title": post.title,
        "images": [{"path": i.path, "alt": i.alt, "width": i.width, "height": i.height} for i in post.images],
        "reply_to": post.reply_to.remote_id if post.reply_to else None,
        "correction": post.correction,
        "urgent": post.urgent,
        "exercise": post.exercise,
        "cap": post.cap,
    }
