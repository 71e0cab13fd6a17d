"""Writes on channels that the publishing side triggers from an adapter's answer."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from publisher.audit import audit_record
from publisher.channels.mastodon import MastodonAdapter
from publisher.channels.registry import get_adapter
from publisher.errors import ValidationError
from publisher.models import Channel


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


def channel_limits_refresh(*, channel: Channel, actor: User | None = None) -> dict[str, Any]:
    """Copy a Mastodon instance's limits into the channel's config, so the checks shown before
    approval use the server's real limits (500 characters is only the default).

    The network call runs first, outside any transaction; then one short transaction stores
    the result. Returns the limits stored ({} for kinds whose server publishes none).
    A disabled channel is refused: it sends nothing, its token included."""
    channel = Channel.objects.get(pk=channel.pk)
    if not channel.enabled:
        raise ValidationError(
            _("%(channel)s is disabled: enable it before reading its limits from its server.")
            % {"channel": channel.name}
        )
    adapter = get_adapter(channel)
    if not isinstance(adapter, MastodonAdapter):
        return {}
    limits = adapter.server_limits()
    if not limits:
        return {}
    with transaction.atomic():
        channel = Channel.objects.select_for_update().get(pk=channel.pk)
        channel.config = {**channel.config, **limits}
        channel.save(update_fields=["config", "updated_at"])
        audit_record(
            actor=actor,
            actor_label="" if actor else "system",
            verb="channel.limits_refreshed",
            obj=channel,
            summary={"limits": limits},
        )
    return limits
