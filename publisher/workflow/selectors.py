"""Reads of the workflow: the approval queue, a message's page (audit trail, routes, channel
problems), the calendar and the audience preview. Fixed query counts, no writes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Prefetch, Q, QuerySet

from accounts.models import User
from accounts.permissions import user_may_read_messages
from accounts.tokens import calendar_link_user
from publisher.channels import checks as channel_checks
from publisher.channels.registry import get_adapter
from publisher.models import (
    AuditEvent,
    Channel,
    Delivery,
    Language,
    Message,
    MessageState,
    Municipality,
    Occurrence,
    Variant,
)
from publisher.territory import routing, selectors


def awaiting_approval(*, user: User) -> QuerySet[Message]:
    """Submitted messages this user may approve: everyone's but their own."""
    return (
        Message.objects.filter(state=MessageState.SUBMITTED)
        .exclude(author=user)
        .select_related("author")
        .prefetch_related(Prefetch("variants", queryset=Variant.objects.order_by("language")))
        .order_by("publish_at", "recurrence_start", "updated_at")
    )


def expired_approvals(*, user: User | None = None) -> QuerySet[Message]:
    qs = Message.objects.filter(state=MessageState.EXPIRED).select_related("author").order_by("-updated_at")
    return qs.filter(author=user) if user is not None else qs


def message_audit_trail(message: Message) -> QuerySet[AuditEvent]:
    """Events on the message and on its deliveries, newest first."""
    delivery_ids = [str(pk) for pk in Delivery.objects.filter(occurrence__message=message).values_list("pk", flat=True)]
    return AuditEvent.objects.filter(
        Q(object_type="message", object_id=str(message.pk)) | Q(object_type="delivery", object_id__in=delivery_ids)
    ).select_related("actor")


def message_channel_problems(message: Message) -> list[str]:
    """Per channel and language problems ("NL — Bluesky: 312/300 characters")."""
    return [problem.message for _language, _channel, problem in channel_checks.message_channel_problems(message)]


def channel_text_max(channel: Channel) -> int | None:
    try:
        return get_adapter(channel).limits_in_force().text_max
    except ImproperlyConfigured:
        return None


@dataclass
class RoutePreview:
    language: str
    channel: Channel
    text_max: int | None
    written: bool


@dataclass
class AudiencePreview:
    required: list[str]
    routes: list[RoutePreview] = field(default_factory=list)
    municipality_count: int = 0


def audience_preview(
    *,
    municipalities: Iterable[str] = (),
    zones: Iterable[str] = (),
    provinces: Iterable[str] = (),
    segments: Iterable[Any] = (),
    everywhere: bool = False,
    written: Iterable[str] = (),
) -> AudiencePreview:
    """Which languages an audience being composed requires and where each variant would go.

    Languages not written yet are routed as if they were, flagged `written=False`, so the
    author sees where the missing text is expected.
    """
    if everywhere:
        qs = Municipality.objects.all()
    else:
        qs = Municipality.objects.filter(
            Q(pk__in=list(municipalities))
            | Q(police_zone__in=list(zones))
            | Q(province__in=list(provinces))
            | Q(segments__in=list(segments))
        ).distinct()
    audience = list(qs.only("nis_code", "language_region", "facilities"))
    required = routing.required_languages(audience)
    written_set = set(written)
    available = set(required) | written_set
    if "de" in required and "de" not in written_set:
        available.discard("de")  # French serves German-speaking audiences when there is no German text
    audience_nis = {m.nis_code for m in audience}
    channels = list(Channel.objects.filter(enabled=True, language__in=required).order_by("language", "name", "pk"))
    coverage: dict[int, set[str]] = {}
    through = Channel.municipalities.through
    for channel_id, nis in through.objects.filter(
        channel_id__in=[c.pk for c in channels if not c.covers_all], municipality_id__in=audience_nis
    ).values_list("channel_id", "municipality_id"):
        coverage.setdefault(channel_id, set()).add(nis)
    by_id = {c.pk: c for c in channels}
    routes = [
        RoutePreview(
            language=r.variant_language,
            channel=by_id[r.channel_id],
            text_max=channel_text_max(by_id[r.channel_id]),
            written=r.variant_language in written_set,
        )
        for r in routing.routes(
            required=required, available=available, audience_nis=audience_nis, channels=channels, coverage=coverage
        )
    ]
    return AudiencePreview(required=required, routes=routes, municipality_count=len(audience))


def message_routes(message: Message) -> list[selectors.ChannelRoute]:
    return selectors.channels_for(message)


def language_names() -> dict[str, str]:
    return {code: str(name) for code, name in Language.choices}


@dataclass(frozen=True)
class CalendarEntry:
    occurrence: Occurrence
    message: Message
    deliveries: list[Delivery]


def calendar_entries(
    *,
    start: datetime,
    end: datetime,
    language: str = "",
    channel: int | None = None,
    zone: str = "",
    states: Iterable[str] | None = None,
) -> list[CalendarEntry]:
    """Occurrences due in [start, end) with their deliveries, filtered by language, channel,
    zone and the message's state (by default: all but cancelled, expired and rejected)."""
    occurrences = Occurrence.objects.filter(due_at__gte=start, due_at__lt=end)
    if states is None:
        occurrences = occurrences.exclude(
            message__state__in=[MessageState.CANCELLED, MessageState.EXPIRED, MessageState.REJECTED]
        )
    else:
        occurrences = occurrences.filter(message__state__in=list(states))
    delivery_filter = Q()
    if language:
        delivery_filter &= Q(language=language)
    if channel:
        delivery_filter &= Q(channel_id=channel)
    if language or channel:
        occurrences = occurrences.filter(pk__in=Delivery.objects.filter(delivery_filter).values("occurrence_id"))
    if zone:
        occurrences = occurrences.filter(
            Q(message__audience_all=True)
            | Q(message__audience_zones=zone)
            | Q(message__audience_municipalities__police_zone=zone)
            | Q(message__audience_provinces__in=Municipality.objects.filter(police_zone=zone).values("province"))
            | Q(message__audience_segments__municipalities__police_zone=zone)
        ).distinct()
    deliveries = (
        Delivery.objects.filter(delivery_filter).select_related("channel").order_by("language", "channel__name")
    )
    rows = (
        occurrences.select_related("message", "message__author")
        .prefetch_related(
            Prefetch("deliveries", queryset=deliveries, to_attr="shown_deliveries"),
            Prefetch("message__variants", queryset=Variant.objects.order_by("language")),
        )
        .order_by("due_at", "pk")
    )
    return [CalendarEntry(o, o.message, list(o.shown_deliveries)) for o in rows]


def calendar_feed_owner(token: str) -> User | None:
    """The owner of this calendar link if they may still read the admin's message list
    (staff, with its permission), else None: the feed then answers 404."""
    user = calendar_link_user(token)
    if user is None or not user.is_staff or not user_may_read_messages(user):
        return None
    return user
