from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from publisher import selectors
from publisher.models import (
    AuditEvent,
    Channel,
    Delivery,
    DeliveryAttempt,
    Message,
    Municipality,
    PoliceZone,
    Province,
    Segment,
    Variant,
)


class NormalizedSearchMixin:
    """Search through selectors.municipality_list: accent- and apostrophe-insensitive."""

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        if not search_term:
            return queryset, False
        matching = selectors.municipality_list(q=search_term).values("pk")
        return queryset.filter(pk__in=matching), False


@admin.register(Municipality)
class MunicipalityAdmin(NormalizedSearchMixin, admin.ModelAdmin):
    list_display = ("nis_code", "name_fr", "name_nl", "language_region", "facilities", "province", "police_zone")
    list_filter = ("language_region", "facilities", "region", "province")
    list_select_related = ("province", "police_zone")
    search_fields = ("search_text",)  # the mixin replaces Django's search with the normalized one
    readonly_fields = [f.name for f in Municipality._meta.fields if f.name != "search_text"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PoliceZone)
class PoliceZoneAdmin(admin.ModelAdmin):
    list_display = ("code", "label")
    search_fields = ("code", "label")


@admin.register(Province)
class ProvinceAdmin(admin.ModelAdmin):
    list_display = ("nis_code", "name_fr", "name_nl")
    search_fields = ("nis_code", "name_fr", "name_nl")


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ("name_fr", "name_nl", "created_at")
    search_fields = ("name_fr", "name_nl")
    autocomplete_fields = ("municipalities",)


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "language", "covers_all", "enabled", "needs_reconnect")
    list_filter = ("kind", "language", "enabled", "needs_reconnect", "covers_all")
    search_fields = ("name",)
    autocomplete_fields = ("municipalities",)


class VariantInline(admin.StackedInline):
    model = Variant
    extra = 0


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("title", "author", "state", "urgency", "status", "publish_at", "updated_at")
    list_filter = ("state", "urgency", "status", "kind")
    list_select_related = ("author",)
    search_fields = ("title", "variants__text")
    date_hierarchy = "created_at"
    inlines = [VariantInline]
    autocomplete_fields = ("audience_municipalities", "audience_zones", "audience_provinces", "audience_segments")
    readonly_fields = ("state", "content_hash", "approved_hash", "approved_by", "approved_at", "author")


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ("started_at", "finished_at", "outcome", "http_status", "error", "duration_ms")


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "channel", "language", "state", "due_at", "attempts", "sent_at", "remote_url")
    list_filter = ("state", "language", "channel")
    list_select_related = ("channel",)
    inlines = [DeliveryAttemptInline]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor_label", "verb", "object_type", "object_id")
    list_filter = ("verb", "object_type")
    search_fields = ("object_id", "actor_label", "verb")
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


admin.site.site_header = _("Tandem — bilingual publishing")
admin.site.site_title = _("Tandem")
admin.site.index_title = _("Publishing")
