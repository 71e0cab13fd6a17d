"""Non-trivial reads. Views, serializers, admin and tasks read through these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q, QuerySet

from publisher import routing
from publisher.models import Channel, Delivery, DispatcherHeartbeat, Message, Municipality
from publisher.search import normalize


def municipality_list(
    *, q: str = "", zone: str = "", province: str = "", language_region: str = ""
) -> QuerySet[Municipality]:
    """Municipalities matching a free-text query (names in any language, NIS or postal code)."""
    qs = Municipality.objects.select_related("province", "police_zone")
    for term in normalize(q).split():
        qs = qs.filter(search_text__contains=term)
    if zone:
        qs = qs.filter(police_zone_id=zone)
    if province:
        qs = qs.filter(
            Q(province_id=province) | Q(province__name_fr__iexact=province) | Q(province__name_nl__iexact=province)
        )
    if language_region:
        qs = qs.filter(language_region=language_region)
    return qs


def municipalities_with_postal_code(code: str) -> QuerySet[Municipality]:
    return Municipality.objects.filter(postal_codes__contains=f" {code.strip()} ")


def audience_municipalities(message: Message) -> QuerySet[Municipality]:
    """Every municipality the message's audience covers."""
    if message.audience_all:
        return Municipality.objects.all()
    if message.pk is None:
        return Municipality.objects.none()
    return Municipality.objects.filter(
        Q(pk__in=message.audience_municipalities.values("pk"))
        | Q(police_zone__in=message.audience_zones.values("pk"))
        | Q(province__in=message.audience_provinces.values("pk"))
        | Q(segments__in=message.audience_segments.values("pk"))
    ).distinct()


def audience_nis_codes(message: Message) -> list[str]:
    """The NIS codes the message's audience resolves to now, sorted (segments by their current members)."""
    return sorted(set(audience_municipalities(message).values_list("nis_code", flat=True)))


def approved_audience_municipalities(message: Message) -> QuerySet[Municipality]:
    """The municipalities the approval bound (``Message.approved_audience``), whatever the
    message's segments hold today; none for a message that is not approved."""
    return Municipality.objects.filter(pk__in=list(message.approved_audience))


def message_required_languages(message: Message) -> list[str]:
    return routing.required_languages(
        audience_municipalities(message).only("nis_code", "language_region", "facilities")
    )


def message_variant_languages(message: Message) -> list[str]:
    return [v.language for v in message.variants.all()]


@dataclass(frozen=True)
class ChannelRoute:
    variant_language: str
    channel: Channel


def channels_for(message: Message, *, approved: bool = False) -> list[ChannelRoute]:
    """Which (variant language, channel) pairs the message will go to, in a fixed query count.

    ``approved=True`` routes by the audience the approval bound (what scheduling uses), not
    by the audience's current resolution (what the compose page previews)."""
    municipalities = approved_audience_municipalities(message) if approved else audience_municipalities(message)
    audience = list(municipalities.only("nis_code", "language_region", "facilities"))
    required = routing.required_languages(audience)
    audience_nis = {m.nis_code for m in audience}
    channels = list(Channel.objects.filter(enabled=True, language__in=required).order_by("language", "name", "pk"))
    through = Channel.municipalities.through
    coverage: dict[int, set[str]] = {}
    partial_ids = [c.pk for c in channels if not c.covers_all]
    for channel_id, nis in through.objects.filter(
        channel_id__in=partial_ids, municipality_id__in=audience_nis
    ).values_list("channel_id", "municipality_id"):
        coverage.setdefault(channel_id, set()).add(nis)
    found = routing.routes(
        required=required,
        available=message_variant_languages(message),
        audience_nis=audience_nis,
        channels=channels,
        coverage=coverage,
    )
    by_id = {c.pk: c for c in channels}
    return [ChannelRoute(r.variant_language, by_id[r.channel_id]) for r in found]


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
    """Enabled channels flagged for reconnection and left so since before ``since``.

    The flag has no timestamp of its own: ``updated_at`` is set when it is raised, so this is a
    lower bound (editing the channel meanwhile makes it look younger, never older)."""
    return list(
        Channel.objects.filter(enabled=True, needs_reconnect=True, updated_at__lt=since)
        .only("pk", "name", "kind", "language", "updated_at")
        .order_by("updated_at", "pk")
    )


def deliveries_count_by_state_and_kind() -> list[tuple[str, str, int]]:
    """(state, channel kind, count) of every delivery: one grouped query (each /metrics scrape)."""
    return list(
        Delivery.objects.order_by()
        .values_list("state", "channel__kind")
        .annotate(n=Count("pk"))
        .values_list("state", "channel__kind", "n")
    )
