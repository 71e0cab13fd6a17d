"""Scheduling: turns an approved message into occurrences and deliveries.

Minimal version (one publication time, or "now"); the dispatch engine extends it with
recurrence, DST handling and the missed-occurrence policy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils import timezone

from publisher import selectors
from publisher.models import Delivery, DeliveryState, MessageState, Occurrence, Urgency

if TYPE_CHECKING:
    from accounts.models import User
    from publisher.models import Message


def message_schedule(*, message: Message, actor: User | None) -> list[Delivery]:
    """Create the message's occurrence and one pending delivery per routed channel.

    Called inside the approval transaction; the dispatcher picks the rows up once committed.
    """
    due_at = message.publish_at or timezone.now()
    occurrence, _ = Occurrence.objects.get_or_create(message=message, due_at=due_at)
    urgent = message.urgency == Urgency.URGENT
    deliveries = [
        Delivery(
            occurrence=occurrence,
            channel=route.channel,
            language=route.variant_language,
            due_at=due_at,
            next_attempt_at=due_at,
            urgent=urgent,
        )
        for route in selectors.channels_for(message)
    ]
    Delivery.objects.bulk_create(deliveries, ignore_conflicts=True)
    message.state = MessageState.SCHEDULED
    message.save(update_fields=["state", "updated_at"])
    return list(Delivery.objects.filter(occurrence=occurrence))


def message_unschedule(*, message: Message, actor: User | None) -> int:
    """Cancel the message's deliveries that have not started (inside the caller's transaction)."""
    return Delivery.objects.filter(
        occurrence__message=message, state__in=[DeliveryState.PENDING, DeliveryState.RETRY_WAIT]
    ).update(state=DeliveryState.CANCELLED, next_attempt_at=None, updated_at=timezone.now())
