"""Engagement: each sent post's public figures at growing intervals after sending (1 h, 6 h,
24 h, 7 d), one snapshot per checkpoint, read through the channel's adapter
(``ChannelAdapter.fetch_metrics``) outside any transaction.

A checkpoint missed while the service was down is not invented afterwards: the next pass
takes the latest checkpoint reached and records when it really read the figures. A rate
limit or an outage on a network skips that channel's other posts for the pass.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from publisher.channels.base import AuthError, ChannelError, PermanentError
from publisher.channels.http import excerpt
from publisher.channels.registry import adapter_classes, get_adapter
from publisher.delivery.posts import receipt_of
from publisher.delivery.publishing import EXERCISE_REMOTE_ID, channel_reconnect_needed
from publisher.models import Delivery, DeliveryState, EngagementSnapshot

logger = logging.getLogger(__name__)

CHECKPOINTS = (3600, 6 * 3600, 24 * 3600, 7 * 24 * 3600)
# Past the last checkpoint by this much, a post is no longer read (the service was down).
LATE_MAX = timedelta(days=1)


@dataclass
class CollectResult:
    taken: int = 0
    skipped_channels: set[int] = field(default_factory=set)
    gone: int = 0


def checkpoint_reached(sent_at: datetime, now: datetime) -> int | None:
    """The latest checkpoint a post sent at ``sent_at`` has reached by ``now``."""
    age = (now - sent_at).total_seconds()
    reached = [c for c in CHECKPOINTS if c <= age]
    return reached[-1] if reached else None


def engagement_due(*, now: datetime) -> list[tuple[int, int]]:
    """(delivery id, checkpoint) of each sent post whose latest reached checkpoint has no snapshot."""
    kinds = [kind for kind, cls in adapter_classes().items() if cls.supports_metrics]
    oldest = now - timedelta(seconds=CHECKPOINTS[-1]) - LATE_MAX
    rows = list(
        Delivery.objects.filter(
            state=DeliveryState.SENT,
            channel__kind__in=kinds,
            channel__needs_reconnect=False,
            sent_at__gte=oldest,
            sent_at__lte=now - timedelta(seconds=CHECKPOINTS[0]),
        )
        # An exercise renders but sends nothing: no post to read figures from.
        .exclude(remote_id__in=["", EXERCISE_REMOTE_ID])
        .values_list("pk", "sent_at")
    )
    taken: dict[int, set[int]] = {}
    snapshots = EngagementSnapshot.objects.filter(delivery_id__in=[pk for pk, _sent in rows])
    for snapshot_delivery, snapshot_checkpoint in snapshots.values_list("delivery_id", "checkpoint"):
        taken.setdefault(snapshot_delivery, set()).add(snapshot_checkpoint)
    due = []
    for delivery_id, sent_at in rows:
        reached = checkpoint_reached(sent_at, now) if sent_at else None
        if reached is not None and not any(c >= reached for c in taken.get(delivery_id, ())):
            due.append((delivery_id, reached))
    return due


def engagement_collect(*, now: datetime | None = None) -> CollectResult:
    """One pass: read the figures of every post at a due checkpoint."""
    now = now or timezone.now()
    result = CollectResult()
    due = dict(engagement_due(now=now))
    deliveries = Delivery.objects.filter(pk__in=sorted(due)).select_related("channel").order_by("pk")
    for delivery in deliveries:
        if delivery.channel_id in result.skipped_channels:
            continue
        try:
            figures = get_adapter(delivery.channel).fetch_metrics(receipt_of(delivery))
        except AuthError as exc:
            # As when sending: held until someone reconnects the channel (skipped meanwhile).
            result.skipped_channels.add(delivery.channel_id)
            channel_reconnect_needed(channel_id=delivery.channel_id, reason=excerpt(exc.message), now=now)
            logger.warning("engagement read refused", extra={"channel_id": delivery.channel_id, "error": exc.message})
            continue
        except PermanentError as exc:
            result.gone += 1
            logger.info("engagement not available", extra={"delivery_id": delivery.pk, "error": exc.message})
            continue
        except ChannelError as exc:
            result.skipped_channels.add(delivery.channel_id)
            logger.warning("engagement read failed", extra={"channel_id": delivery.channel_id, "error": exc.message})
            continue
        try:
            with transaction.atomic():
                EngagementSnapshot.objects.create(
                    delivery=delivery, checkpoint=due[delivery.pk], taken_at=timezone.now(), figures=figures
                )
        except IntegrityError:
            continue  # another pass took it meanwhile
        result.taken += 1
    return result
