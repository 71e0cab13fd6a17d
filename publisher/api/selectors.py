"""Reads of the API: querysets whose lists cost a fixed number of queries, limited to a token's area."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

from accounts.tokens import TokenArea
from publisher.models import Channel, Message, Municipality, Segment
from publisher.territory import selectors


def message_list(*, area: TokenArea, state: str = "", urgency: str = "", kind: str = "") -> QuerySet[Message]:
    """Messages a caller may see: all of them, or for a limited token those whose audience meets its area."""
    qs = Message.objects.select_related("author").prefetch_related(
        "variants",
        Prefetch("audience_municipalities", queryset=Municipality.objects.only("pk")),
        "audience_zones",
        "audience_provinces",
        "audience_segments",
    )
    if area.limited:
        assert area.nis_codes is not None
        nis = list(area.nis_codes)
        zones = Municipality.objects.filter(pk__in=nis).values("police_zone_id")
        provinces = Municipality.objects.filter(pk__in=nis).values("province_id")
        segments = Segment.municipalities.through.objects.filter(municipality_id__in=nis).values("segment_id")
        qs = qs.filter(
            pk__in=Message.objects.filter(
                Q(audience_municipalities__in=nis)
                | Q(audience_zones__in=zones)
                | Q(audience_provinces__in=provinces)
                | Q(audience_segments__in=segments)
            ).values("pk")
        )
    if state:
        qs = qs.filter(state=state)
    if urgency:
        qs = qs.filter(urgency=urgency)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("-created_at", "-pk")


def message_languages(message: Message) -> list[str]:
    return selectors.message_required_languages(message)


def segment_list() -> QuerySet[Segment]:
    return Segment.objects.prefetch_related(
        Prefetch("municipalities", queryset=Municipality.objects.only("pk"))
    ).order_by("name_fr", "pk")


def channel_list() -> QuerySet[Channel]:
    # The credential's dates only: its ciphertext never leaves the database here.
    return (
        Channel.objects.select_related("credential")
        .defer("credential__ciphertext")
        .prefetch_related(Prefetch("municipalities", queryset=Municipality.objects.only("pk")))
        .order_by("language", "name", "pk")
    )
