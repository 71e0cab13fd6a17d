"""Retention: delete the delivery history older than N days (``manage.py prune_history``,
``TANDEM_RETENTION_DAYS``).

What goes: finished deliveries (sent, failed, expired, cancelled, retracted) whose due time
and last change are both older than the cut-off, with their attempts, and the occurrences
left without deliveries. Messages stay (the audit trail and the message list name them), and
so does every audit event: the audit trail is append-only.

What stays, whatever its age:

- everything of a message still in progress: drafts, submitted, approved, scheduled and
  publishing messages, live recurring messages (more occurrences to come), and any message
  with a delivery not finished (pending, queued, sending, waiting to retry, unconfirmed:
  someone must still check whether an unconfirmed post is online);
- the deliveries of an urgent alert that can still be followed up: an update or all-clear
  replies on the original posts, so it needs their remote ids;
- a delivery another delivery replies to (the reply would lose its thread);
- what the feeds show: the newest ``FEED_SIZE`` entries of each Atom feed (per language and
  per channel) and the sent ``cap`` deliveries of the alerts in the CAP feed;
- a delivery named by an audit event (a manual retry): the message page's audit trail finds
  delivery events through the message's deliveries.

It deletes in batches (a range of ids at a time, so each batch's query reads a bounded
number of rows however large the ledger), each in its own short transaction with its rows
locked, so the dispatcher and the workers are never held up by one huge DELETE; a run
stopped half-way is simply run again (idempotent).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import CharField, Exists, Max, Min, OuterRef, Q, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone

from accounts.models import User
from publisher.feeds import syndication as feeds
from publisher.models import (
    AuditEvent,
    Channel,
    Delivery,
    DeliveryAttempt,
    DeliveryState,
    Message,
    MessageKind,
    MessageState,
    Occurrence,
    Urgency,
)
from publisher.workflow.alerts import FOLLOWABLE_STATES

FINISHED = [
    DeliveryState.SENT,
    DeliveryState.FAILED,
    DeliveryState.EXPIRED,
    DeliveryState.CANCELLED,
    DeliveryState.RETRACTED,
]
UNFINISHED = [s for s in DeliveryState.values if s not in FINISHED]
IN_PROGRESS = [
    MessageState.DRAFT,
    MessageState.SUBMITTED,
    MessageState.APPROVED,
    MessageState.SCHEDULED,
    MessageState.PUBLISHING,
]
# A recurring message in these states gets more occurrences (scheduling.recurrences_extend).
RECURRING_LIVE = [
    MessageState.SCHEDULED,
    MessageState.PUBLISHING,
    MessageState.PUBLISHED,
    MessageState.PARTIALLY_FAILED,
]
BATCH_SIZE = 1000
ACTOR_LABEL = "retention"


@dataclass
class PruneResult:
    cutoff: datetime
    dry_run: bool
    deliveries: int = 0
    attempts: int = 0
    occurrences: int = 0
    batches: int = 0


def retention_cutoff(*, days: int, now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=days)


def _kept_among(message_ids: set[int]) -> set[int]:
    """Which of these messages keep all their deliveries, whatever their age."""
    if not message_ids:
        return set()
    ids = sorted(message_ids)
    unfinished = Delivery.objects.filter(occurrence__message_id__in=ids, state__in=UNFINISHED).values(
        "occurrence__message_id"
    )
    return set(
        Message.objects.filter(pk__in=ids)
        .filter(
            Q(state__in=IN_PROGRESS)
            | (~Q(recurrence="") & Q(state__in=RECURRING_LIVE))
            | Q(urgency=Urgency.URGENT, kind=MessageKind.ALERT, state__in=FOLLOWABLE_STATES)
            | Q(pk__in=unfinished)
        )
        .values_list("pk", flat=True)
    )


def feed_delivery_ids() -> set[int]:
    """Deliveries the feeds show now: the same queries the feeds run, so nothing they list goes."""
    shown: set[int] = set()
    for language in feeds.FEED_LANGUAGES:
        rows = feeds.feed_deliveries(kind="atom", language=language)
        shown.update(rows.values_list("pk", flat=True)[: feeds.FEED_SIZE])
    for channel in Channel.objects.filter(kind="atom"):
        rows = feeds.feed_deliveries(kind="atom", channel=channel, language=channel.language)
        shown.update(rows.values_list("pk", flat=True)[: feeds.FEED_SIZE])
    alerts = list(feeds.cap_feed_messages().values_list("pk", flat=True)[: feeds.FEED_SIZE])
    shown.update(
        Delivery.objects.filter(
            channel__kind="cap", state=DeliveryState.SENT, occurrence__message_id__in=alerts
        ).values_list("pk", flat=True)
    )
    return shown


def _old_finished(*, cutoff: datetime, keep: set[int]) -> QuerySet[Delivery]:
    """Finished deliveries past the cut-off that no reply, audit event or feed needs."""
    replied = Delivery.objects.filter(reply_to=OuterRef("pk"))
    audited = AuditEvent.objects.filter(
        object_type="delivery", object_id=Cast(OuterRef("pk"), output_field=CharField())
    )
    return (
        Delivery.objects.filter(state__in=FINISHED, due_at__lt=cutoff, updated_at__lt=cutoff)
        .exclude(Exists(replied))
        .exclude(Exists(audited))
        .exclude(pk__in=sorted(keep))
    )


def _batch(*, low: int, high: int, cutoff: datetime, keep: set[int], lock: bool) -> list[int]:
    """The deliveries with ids in [low, high) that may go now (call inside a transaction to lock)."""
    rows = _old_finished(cutoff=cutoff, keep=keep).filter(pk__gte=low, pk__lt=high)
    if lock:
        # Checked again under the lock: a delivery retried or replied to since is not taken.
        rows = rows.select_for_update(skip_locked=True, of=("self",))
    found = list(rows.values_list("pk", "occurrence__message_id"))
    kept = _kept_among({message_id for _pk, message_id in found})
    return [pk for pk, message_id in found if message_id not in kept]


def history_prune(
    *,
    days: int,
    actor: User | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
) -> PruneResult:
    """Delete finished deliveries older than ``days`` days, their attempts and emptied occurrences.

    Walks the deliveries by id, ``batch_size`` ids at a time, newest first (a reply is always
    newer than what it replies to, so a reply goes before its parent is looked at), each batch
    in its own transaction. Records one audit event for the run when it deleted anything.
    ``dry_run`` only counts."""
    if days < 1:
        raise ValueError("days must be at least 1")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    cutoff = retention_cutoff(days=days, now=now)
    result = PruneResult(cutoff=cutoff, dry_run=dry_run)
    keep = feed_delivery_ids()
    # Deliveries written from now on are younger than the cut-off: the walk ends at today's last id.
    bounds = Delivery.objects.aggregate(low=Min("pk"), high=Max("pk"))
    if bounds["low"] is None:
        return result
    high = bounds["high"] + 1
    while high > bounds["low"]:
        low = max(high - batch_size, bounds["low"])
        if dry_run:
            ids = _batch(low=low, high=high, cutoff=cutoff, keep=keep, lock=False)
            result.deliveries += len(ids)
            result.attempts += DeliveryAttempt.objects.filter(delivery_id__in=ids).count()
        else:
            with transaction.atomic():
                ids = _batch(low=low, high=high, cutoff=cutoff, keep=keep, lock=True)
                if ids:
                    _delete(ids, cutoff, result)
        high = low
    if result.deliveries and not dry_run:
        AuditEvent.objects.create(
            actor=actor,
            actor_label=actor.get_username() if actor else ACTOR_LABEL,
            verb="history.pruned",
            object_type="retention",
            object_id=cutoff.date().isoformat(),
            summary={
                "days": days,
                "cutoff": cutoff.isoformat(),
                "deliveries": result.deliveries,
                "attempts": result.attempts,
                "occurrences": result.occurrences,
            },
        )
    return result


def _delete(ids: list[int], cutoff: datetime, result: PruneResult) -> None:
    occurrence_ids = sorted(set(Delivery.objects.filter(pk__in=ids).values_list("occurrence_id", flat=True)))
    result.attempts += DeliveryAttempt.objects.filter(delivery_id__in=ids).delete()[0]
    result.deliveries += Delivery.objects.filter(pk__in=ids).delete()[0]
    emptied = Occurrence.objects.filter(pk__in=occurrence_ids, due_at__lt=cutoff).exclude(
        Exists(Delivery.objects.filter(occurrence=OuterRef("pk")))
    )
    result.occurrences += emptied.delete()[0]
    result.batches += 1
