"""Shared set-up for the dispatch engine's tests: messages with many due deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from accounts.models import User
from publisher.models import Channel, Delivery, Message, MessageState, Occurrence, Urgency, Variant
from publisher.workflow import services
from publisher.workflow.checklist import checklist_all_ticked
from tests.factories import ChannelFactory, make_message


def approved_message(*, author: User, approver: User, **fields: Any) -> Message:
    """A message through the real submit/approve services (routing and scheduling run)."""
    message = make_message(author=author)
    if fields:
        Message.objects.filter(pk=message.pk).update(**fields)
        message.refresh_from_db()
        message.content_hash = services.message_content_hash(message)
        message.save(update_fields=["content_hash"])
    services.message_submit(message=message, actor=author)
    return services.message_approve(message=message, actor=approver, checklist=checklist_all_ticked())


def fake_channels(*, languages: tuple[str, ...] = ("fr", "nl"), kind: str = "fake", **config: Any) -> list[Channel]:
    return [ChannelFactory(language=lang, covers_all=True, kind=kind, config=dict(config)) for lang in languages]


def due_deliveries(
    *,
    author: User,
    count: int,
    due_at: datetime | None = None,
    kind: str = "fake",
    config: dict[str, Any] | None = None,
    urgency: str = Urgency.ROUTINE,
    status: str = "actual",
) -> list[int]:
    """One scheduled message with ``count`` pending deliveries (one per new channel), due at ``due_at``."""
    due_at = due_at or timezone.now()
    message = Message.objects.create(
        title="Bulk", author=author, state=MessageState.SCHEDULED, urgency=urgency, status=status, publish_at=due_at
    )
    Variant.objects.create(message=message, language="fr", text="Bonjour")
    occurrence = Occurrence.objects.create(message=message, due_at=due_at)
    channels = Channel.objects.bulk_create(
        [
            Channel(name=f"Fake {i}", kind=kind, language="fr", covers_all=True, config=config or {})
            for i in range(count)
        ]
    )
    deliveries = Delivery.objects.bulk_create(
        [
            Delivery(
                occurrence=occurrence,
                channel=channel,
                language="fr",
                due_at=due_at,
                next_attempt_at=due_at,
                urgent=urgency == Urgency.URGENT,
            )
            for channel in channels
        ]
    )
    return [d.pk for d in deliveries]
