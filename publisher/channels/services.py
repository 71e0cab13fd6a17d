"""Writes on channels that the publishing side triggers from an adapter's answer."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from publisher.models import Channel
from publisher.services import audit_record


def channel_disable(*, channel: Channel, reason: str, actor: User | None = None) -> Channel:
    """Stop routing to a channel whose endpoint is gone for good (a webhook's 410 Gone).

    Call it outside the network call, e.g. when publish raised `base.Gone`."""
    with transaction.atomic():
        channel = Channel.objects.select_for_update().get(pk=channel.pk)
        if not channel.enabled:
            return channel
        channel.enabled = False
        channel.needs_reconnect_reason = reason
        channel.save(update_fields=["enabled", "needs_reconnect_reason", "updated_at"])
        audit_record(
            actor=actor,
            actor_label="" if actor else "dispatcher",
            verb="channel.disabled",
            obj=channel,
            summary={"reason": reason},
        )
    return channel
