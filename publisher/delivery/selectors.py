"""Reads of the delivery side: where a message went, and what readiness checks."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, QuerySet
from django.db.models.functions import Coalesce

from publisher.models import Channel, Delivery, DispatcherHeartbeat, Message


def message_deliveries(message: Message) -> QuerySet[Delivery]:
    """Where a message went: its deliveries with their channels, in a fixed number of queries."""
    return (
        Delivery.objects.filter(occurrence__message=message)
        .select_related("channel", "occurrence")
        .order_by("due_at", "language", "channel__name", "pk")
    )


def dispatcher_heartbeat_latest() -> datetime | None:
    """When any dispatcher last reported alive, or None if none ever did (or all were pruned)."""
    return DispatcherHeartbeat.objects.order_by("-seen_at").values_list("seen_at", flat=True).first()


def channels_reconnect_overdue(*, since: datetime) -> list[Channel]:
    """Enabled channels flagged for reconnection and left so since before ``since``, oldest first.

    A flag without its time (set by hand in the database) counts from ``updated_at``, a lower bound."""
    raised = Coalesce("needs_reconnect_since", "updated_at")
    return list(
        Channel.objects.filter(enabled=True, needs_reconnect=True)
        .annotate(flagged_at=raised)
        .filter(flagged_at__lt=since)
        .only("pk", "name", "kind", "language", "needs_reconnect_since", "updated_at")
        .order_by("flagged_at", "pk")
    )


def deliveries_count_by_state_and_kind() -> list[tuple[str, str, int]]:
    """(state, channel kind, count) of every delivery: one grouped query (each /metrics scrape)."""
    return list(
        Delivery.objects.order_by()
        .values_list("state", "channel__kind")
        .annotate(n=Count("pk"))
        .values_list("state", "channel__kind", "n")
    )
