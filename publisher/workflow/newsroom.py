"""Reads for the newsroom home ("Today"): what goes out soon, what waits for me, what needs a
decision, which channels need reconnecting, which policy alerts nobody reviewed yet, and my
recent messages with their live status per language and channel.

Each read costs a fixed number of queries whatever the number of rows (pinned in
tests/publisher/test_newsroom.py); nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import CharField, Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone

from accounts.models import User
from publisher.delivery import scheduling
from publisher.models import AuditEvent, Channel, Delivery, DeliveryState, Message, MessageState, Variant

UPCOMING_HOURS = 72
UPCOMING_LIMIT = 200
DECISIONS_LIMIT = 50
DECISION_DAYS = 14
REVIEW_DAYS = 30
ALERTS_LIMIT = 20
RECENT_LIMIT = 8

# Who decides what happens to a delivery that did not go out: those who may approve what is
# published, and those who administer the channels.
DECIDER_PERMISSIONS = ("publisher.approve_message", "publisher.change_channel")
POLICY_REVIEWED_VERB = "message.policy_reviewed"

NOT_YET_SENT = [DeliveryState.PENDING, DeliveryState.QUEUED, DeliveryState.SENDING, DeliveryState.RETRY_WAIT]
NEEDS_DECISION = [DeliveryState.FAILED, DeliveryState.UNCONFIRMED, DeliveryState.EXPIRED]
# Decisions already taken on the message as a whole: its deliveries need no more.
WITHDRAWN = [MessageState.CANCELLED, MessageState.RETRACTED]
# States in which a message's schedule is still ahead of it (or not fixed until approval).
NOT_YET_APPROVED = {MessageState.DRAFT, MessageState.SUBMITTED, MessageState.REJECTED}
NOTHING_MORE = {MessageState.CANCELLED, MessageState.RETRACTED, MessageState.EXPIRED}


def _active(user: User) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


def may_decide(user: User) -> bool:
    """Retry, give up or mark as posted by hand: approvers and channel administrators."""
    return _active(user) and any(user.has_perm(p) for p in DECIDER_PERMISSIONS)


def may_review_alerts(user: User) -> bool:
    return _active(user) and user.has_perm("publisher.approve_message")


# --- what goes out ------------------------------------------------------------------------


@dataclass
class Route:
    """One language on one channel for one publication time."""

    language: str
    channel: Channel
    delivery: Delivery


@dataclass
class UpcomingEntry:
    due_at: datetime
    message: Message
    routes: list[Route] = field(default_factory=list)

    @property
    def languages(self) -> list[tuple[str, list[Route]]]:
        grouped: dict[str, list[Route]] = {}
        for route in self.routes:
            grouped.setdefault(route.language, []).append(route)
        return sorted(grouped.items())


def upcoming(*, now: datetime | None = None, hours: int = UPCOMING_HOURS) -> list[UpcomingEntry]:
    """Deliveries still to go out before now + ``hours``, one entry per publication time,
    per language and channel (overdue ones first: they are late, not gone). One query."""
    now = now or timezone.now()
    deliveries = (
        Delivery.objects.filter(state__in=NOT_YET_SENT, due_at__lt=now + timedelta(hours=hours))
        .exclude(occurrence__message__state__in=WITHDRAWN)
        .select_related("occurrence__message", "channel")
        .order_by("due_at", "occurrence_id", "language", "channel__name", "pk")[:UPCOMING_LIMIT]
    )
    entries: dict[int, UpcomingEntry] = {}
    for delivery in deliveries:
        occurrence = delivery.occurrence
        entry = entries.get(occurrence.pk)
        if entry is None:
            entry = entries[occurrence.pk] = UpcomingEntry(due_at=occurrence.due_at, message=occurrence.message)
        entry.routes.append(Route(delivery.language, delivery.channel, delivery))
    return list(entries.values())


# --- what waits for me ----------------------------------------------------------------------


def awaiting_my_approval(*, user: User) -> QuerySet[Message]:
    """Submitted messages this user may approve: neither written nor changed by them since the
    last approval (publisher.workflow.services.message_editor_ids). Two queries with the texts."""
    if not may_review_alerts(user):
        return Message.objects.none()
    return (
        Message.objects.filter(state=MessageState.SUBMITTED)
        .exclude(author=user)
        .exclude(editors=user)
        .select_related("author")
        .prefetch_related(Prefetch("variants", queryset=Variant.objects.order_by("language")))
        .order_by("publish_at", "recurrence_start", "updated_at", "pk")
    )


def deliveries_needing_decision(*, user: User, now: datetime | None = None) -> list[Delivery]:
    """Failed, unconfirmed or expired deliveries of messages still standing, due in the last
    DECISION_DAYS, newest first. Older ones are history (the message page and the deliveries
    list keep them): a year of it must neither fill the home page nor slow it down. Those who
    decide see everyone's; an author sees their own messages'. One query."""
    since = (now or timezone.now()) - timedelta(days=DECISION_DAYS)
    qs = (
        Delivery.objects.filter(state__in=NEEDS_DECISION, due_at__gte=since)
        .exclude(occurrence__message__state__in=WITHDRAWN)
        .select_related("occurrence__message", "channel")
        .order_by("-due_at", "-pk")
    )
    if not may_decide(user):
        qs = qs.filter(occurrence__message__author=user)
    return list(qs[:DECISIONS_LIMIT])


def channels_needing_reconnection() -> list[Channel]:
    """Channels held until someone reconnects them, with how many deliveries wait. One query."""
    return list(
        Channel.objects.filter(needs_reconnect=True)
        .annotate(held=Count("deliveries", filter=Q(deliveries__state__in=NOT_YET_SENT)))
        .order_by("language", "name")
    )


def _reviewed() -> Exists:
    return Exists(
        AuditEvent.objects.filter(
            verb=POLICY_REVIEWED_VERB, object_type="message", object_id=Cast(OuterRef("pk"), CharField())
        )
    )


def policy_alerts_unreviewed(*, now: datetime | None = None) -> QuerySet[Message]:
    """Alerts the urgent-alert policy approved in the last REVIEW_DAYS that no approver has
    reviewed since (the review is an audit event, see publisher.workflow.decisions). Older
    ones are history: the audit trail keeps them. Two queries with the texts."""
    since = (now or timezone.now()) - timedelta(days=REVIEW_DAYS)
    return (
        Message.objects.filter(approved_by_policy=True, approved_at__gte=since)
        .exclude(_reviewed())
        .select_related("author")
        .prefetch_related(Prefetch("variants", queryset=Variant.objects.order_by("language")))
        .order_by("-approved_at", "-pk")
    )


def policy_alert_is_reviewed(message: Message) -> bool:
    return AuditEvent.objects.filter(
        verb=POLICY_REVIEWED_VERB, object_type="message", object_id=str(message.pk)
    ).exists()


# --- my messages ---------------------------------------------------------------------------


@dataclass
class MessageStatusRow:
    message: Message
    routes: list[Route] = field(default_factory=list)


def _live_routes(deliveries: Iterable[Delivery], now: datetime) -> list[Route]:
    """Per language and channel, the delivery that tells where it stands: the latest one due
    by now, else the next one to come (a recurring message has one per occurrence)."""
    chosen: dict[tuple[str, int], Delivery] = {}
    for delivery in deliveries:  # ordered by due_at
        key = (delivery.language, delivery.channel_id)
        current = chosen.get(key)
        if current is None or delivery.due_at <= now:
            chosen[key] = delivery
    routes = [Route(d.language, d.channel, d) for d in chosen.values()]
    return sorted(routes, key=lambda r: (r.language, r.channel.name, r.channel.pk))


def my_recent_messages(*, user: User, now: datetime | None = None, limit: int = RECENT_LIMIT) -> list[MessageStatusRow]:
    """My latest messages with, per language and channel, their live delivery and its post's
    link. Two queries."""
    now = now or timezone.now()
    messages = list(Message.objects.filter(author=user).order_by("-updated_at", "-pk")[:limit])
    by_message: dict[int, list[Delivery]] = {m.pk: [] for m in messages}
    for delivery in (
        Delivery.objects.filter(occurrence__message__in=[m.pk for m in messages])
        .select_related("channel", "occurrence")
        .order_by("due_at", "pk")
    ):
        by_message[delivery.occurrence.message_id].append(delivery)
    return [MessageStatusRow(m, _live_routes(by_message[m.pk], now)) for m in messages]


# --- the message page ----------------------------------------------------------------------


def next_publications(message: Message, *, now: datetime | None = None, count: int = 10) -> list[datetime]:
    """Publication times still to come (aware UTC): none once the message is withdrawn or its
    approval expired, and never a time already past."""
    if message.state in NOTHING_MORE:
        return []
    now = now or timezone.now()
    times = scheduling.occurrences_preview(
        publish_at=message.publish_at,
        recurrence=message.recurrence,
        recurrence_start=message.recurrence_start,
        count=count,
        now=now,
    )
    if message.state in NOT_YET_APPROVED:
        return times
    return [t for t in times if t > now]


# --- the whole page ------------------------------------------------------------------------


@dataclass
class Home:
    upcoming: list[UpcomingEntry]
    awaiting: list[Message]
    decisions: list[Delivery]
    reconnect: list[Channel]
    alerts: list[Message]
    mine: list[MessageStatusRow]
    can_decide: bool
    can_review: bool


def home(*, user: User, now: datetime | None = None) -> Home:
    now = now or timezone.now()
    can_review = may_review_alerts(user)
    return Home(
        upcoming=upcoming(now=now),
        awaiting=list(awaiting_my_approval(user=user)[:20]),
        decisions=deliveries_needing_decision(user=user, now=now),
        reconnect=channels_needing_reconnection(),
        alerts=list(policy_alerts_unreviewed(now=now)[:ALERTS_LIMIT]) if can_review else [],
        mine=my_recent_messages(user=user, now=now),
        can_decide=may_decide(user),
        can_review=can_review,
    )
