"""Credentials renewed before they expire, without anyone acting.

The dispatcher looks every TANDEM_CREDENTIAL_REFRESH_EVERY_SECONDS for credentials expiring
within TANDEM_CREDENTIAL_REFRESH_MARGIN_SECONDS whose adapter `supports_refresh`, and hands
their channel ids to a routine task (`credentials_refresh`): the network calls run in a
worker, never in the dispatcher's loop. Each refresh is claimed for a short lease (one worker
at a time), called outside any transaction, then written back. A refused refresh (revoked or
expired grant: the adapter raises AuthError) holds the channel's deliveries and tells the
channel administrators, through the same path as a token refused while publishing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from publisher import metrics
from publisher.channels import credentials, registry
from publisher.channels.base import AuthError, ChannelError
from publisher.delivery import publishing
from publisher.models import Channel

logger = logging.getLogger(__name__)

# Longer than any refresh call (connect + read timeouts), short enough that a worker killed
# mid-refresh delays the next try by a minute or two only.
REFRESH_LEASE_SECONDS = 120.0


def refreshable_kinds() -> list[str]:
    return [kind for kind, cls in registry.adapter_classes().items() if cls.supports_refresh]


def credentials_due(*, now: datetime | None = None) -> list[int]:
    """Channel ids whose credential should be refreshed now (a read; cheap enough for every pass)."""
    kinds = refreshable_kinds()
    if not kinds:
        return []
    return credentials.credentials_due_for_refresh(
        now=now or timezone.now(), margin_seconds=settings.TANDEM_CREDENTIAL_REFRESH_MARGIN_SECONDS, kinds=kinds
    )


def credentials_refresh(*, channel_ids: Sequence[int]) -> dict[str, list[int]]:
    """Refresh each channel's credential. Returns the ids refreshed, refused (needs
    reconnecting now), failed (transient: tried again on a later pass) and skipped."""
    result: dict[str, list[int]] = {"refreshed": [], "refused": [], "failed": [], "skipped": []}
    for channel_id in channel_ids:
        result[_refresh_one(channel_id)].append(channel_id)
    return result


def _refresh_one(channel_id: int) -> str:
    now = timezone.now()
    channel = Channel.objects.filter(pk=channel_id).first()
    if channel is None or not channel.enabled or channel.needs_reconnect:
        return "skipped"
    try:
        credential = credentials.credential_refresh_claim(
            channel_id=channel_id, now=now, lease_seconds=REFRESH_LEASE_SECONDS
        )
    except AuthError as exc:  # no configured key decrypts it
        publishing.channel_reconnect_needed(channel_id=channel_id, reason=exc.message)
        return "refused"
    if credential is None:
        return "skipped"
    adapter = registry.get_adapter(channel)
    try:
        renewed = adapter.refresh(credential)
    except AuthError as exc:
        metrics.token_refresh_failed(network=channel.kind)
        logger.warning("Channel %s: the network refused the credential refresh: %s", channel_id, exc.message)
        publishing.channel_reconnect_needed(channel_id=channel_id, reason=exc.message)
        credentials.credential_refresh_release(channel_id=channel_id)
        return "refused"
    except ChannelError as exc:
        metrics.token_refresh_failed(network=channel.kind)
        logger.warning("Channel %s: credential refresh failed, trying again later: %s", channel_id, exc.message)
        credentials.credential_refresh_release(channel_id=channel_id)
        return "failed"
    credentials.credential_refreshed(
        channel_id=channel_id,
        secrets=renewed.secrets,
        expires_at=renewed.expires_at,
        refresh_expires_at=renewed.refresh_expires_at,
    )
    return "refreshed"
