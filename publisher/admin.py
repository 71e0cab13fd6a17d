from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import csrf_protect_m
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from publisher import catalogue, publishing, selectors
from publisher.channels import registry
from publisher.channels import services as channel_services
from publisher.channels.base import ChannelError
from publisher.errors import ValidationError
from publisher.models import (
    Attachment,
    AuditEvent,
    Channel,
    Delivery,
    DeliveryAttempt,
    Message,
    Municipality,
    Occurrence,
    PoliceZone,
    Province,
    Segment,
    Variant,
)
from publisher.views import calendar as calendar_views
from publisher.views import language as language_views
from publisher.views import lists, preview
from publisher.views import messages as message_views


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


def _staff(request: HttpRequest) -> User:
    # The admin only serves signed-in staff; this narrows the type for the services.
    assert isinstance(request.user, User)  # noqa: S101
    return request.user


class ServiceSaveMixin:
    """Admin saves go through the catalogue services (validation, audit trail, one transaction)
    instead of ModelAdmin's direct save; a service error is shown at its field."""

    def save_through_service(self, request: HttpRequest, obj: Any, data: dict[str, Any], change: bool) -> Any:
        raise NotImplementedError

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        saved = self.save_through_service(request, obj, form.cleaned_data, change)
        obj.pk = saved.pk

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # The service already set the many-to-many fields.
        return None


@admin.register(Segment)
class SegmentAdmin(ServiceSaveMixin, admin.ModelAdmin):
    list_display = ("name_fr", "name_nl", "created_at")
    search_fields = ("name_fr", "name_nl")
    autocomplete_fields = ("municipalities",)
    fields = ("name_fr", "name_nl", "municipalities")

    def save_through_service(self, request: HttpRequest, obj: Any, data: dict[str, Any], change: bool) -> Any:
        fields = {
            "name_fr": data["name_fr"],
            "name_nl": data["name_nl"],
            "municipalities": [m.pk for m in data["municipalities"]],
        }
        if change:
            return catalogue.segment_update(segment=obj, actor=_staff(request), **fields)
        return catalogue.segment_create(actor=_staff(request), **fields)


class ChannelForm(forms.ModelForm):
    # Only kinds with an installed adapter can be chosen.
    kind = forms.ChoiceField(label=gettext_lazy("kind"), choices=lambda: [(k, k) for k in registry.kinds()])

    class Meta:
        model = Channel
        fields = ("name", "kind", "language", "covers_all", "municipalities", "enabled", "config", "secret_ref")
        help_texts = {
            "secret_ref": gettext_lazy(
                "Name of the environment variable holding the secret; it must start with TANDEM_SECRET_."
            )
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind"):
            # The service checks again when saving; here its errors land at their field.
            try:
                catalogue.channel_connection_check(
                    kind=data["kind"], config=data.get("config") or {}, secret_ref=data.get("secret_ref", "")
                )
            except ValidationError as exc:
                for key, problems in exc.message_dict.items():
                    field, _dot, sub = key.partition(".")
                    for problem in problems:
                        self.add_error(field if field in self.fields else None, f"{sub}: {problem}" if sub else problem)
        return data


@admin.register(Channel)
class ChannelAdmin(ServiceSaveMixin, admin.ModelAdmin):
    form = ChannelForm
    list_display = ("name", "kind", "language", "covers_all", "enabled", "needs_reconnect")
    list_filter = ("kind", "language", "enabled", "needs_reconnect", "covers_all")
    search_fields = ("name",)
    autocomplete_fields = ("municipalities",)
    readonly_fields = ("needs_reconnect", "needs_reconnect_reason")
    actions = ["mark_reconnected", "refresh_limits"]

    @csrf_protect_m
    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        # Checking a channel resolves its host names (form and service): no network call
        # inside a transaction, so not inside the one the admin opens around a save (on
        # SQLite it holds the write lock). The catalogue service opens its own for the write.
        return self._changeform_view(request, object_id, form_url, extra_context)  # type: ignore[attr-defined]

    def save_through_service(self, request: HttpRequest, obj: Any, data: dict[str, Any], change: bool) -> Any:
        fields = {
            "name": data["name"],
            "kind": data["kind"],
            "language": data["language"],
            "covers_all": data["covers_all"],
            "municipalities": [m.pk for m in data["municipalities"]],
            "enabled": data["enabled"],
            "config": data["config"] or {},
            "secret_ref": data["secret_ref"],
        }
        if change:
            return catalogue.channel_update(channel=obj, actor=_staff(request), **fields)
        return catalogue.channel_create(actor=_staff(request), **fields)

    @admin.action(description=gettext_lazy("Read the limits from the server (Mastodon)"))
    def refresh_limits(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        for channel in queryset:
            try:
                limits = channel_services.channel_limits_refresh(channel=channel, actor=_staff(request))
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), level=messages.ERROR)
            except ChannelError as exc:
                self.message_user(
                    request,
                    _("%(channel)s: the server did not answer (%(error)s).") % {"channel": channel, "error": exc},
                    level=messages.ERROR,
                )
            else:
                if limits:
                    self.message_user(
                        request,
                        _("%(channel)s: %(count)s limits read from the server.")
                        % {"channel": channel, "count": len(limits)},
                    )

    @admin.action(description=gettext_lazy("Mark as reconnected (resume held deliveries)"))
    def mark_reconnected(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        for channel in queryset.filter(needs_reconnect=True):
            publishing.channel_reconnected(channel=channel, actor=_staff(request))


class MessageAdmin(admin.ModelAdmin):
    """The compose and approve workflow: add and change views are the message page
    (publisher/views/messages.py); every write goes through publisher.services."""

    list_display = ("title", "author", "state", "urgency", "status", "publish_at", "updated_at")
    list_filter = ("state", "urgency", "status", "kind")
    list_select_related = ("author",)
    search_fields = ("title", "variants__text")
    date_hierarchy = "created_at"
    # The related admins' search backs the audience pickers' autocomplete.
    autocomplete_fields = ("audience_municipalities", "audience_zones", "audience_provinces", "audience_segments")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a message is cancelled or retracted, never deleted: the audit trail needs it

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        return message_views.compose_view(self, request, None)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        return message_views.compose_view(self, request, object_id)

    def get_urls(self) -> list[URLPattern]:
        def wrap(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
            def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
                return view(self, request, *args, **kwargs)

            return self.admin_site.admin_view(wrapper)

        def public(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
            def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
                return view(self, request, *args, **kwargs)

            return wrapper

        info = "publisher_message"
        return [
            path("approvals/", wrap(lists.approvals_view), name=f"{info}_approvals"),
            path("expired/", wrap(lists.expired_view), name=f"{info}_expired"),
            path("calendar/", wrap(calendar_views.calendar_view), name=f"{info}_calendar"),
            path("calendar/link/", wrap(calendar_views.calendar_link_view), name=f"{info}_calendar_link"),
            # Calendar clients cannot log in: the feed's secret token is its credential.
            path("calendar/<str:token>.ics", public(calendar_views.ical_view), name=f"{info}_ical"),
            path("preview/audience/", wrap(preview.audience_view), name=f"{info}_preview_audience"),
            path("preview/schedule/", wrap(preview.schedule_view), name=f"{info}_preview_schedule"),
            path("<path:object_id>/submit/", wrap(message_views.submit_view), name=f"{info}_submit"),
            path("<path:object_id>/approve/", wrap(message_views.approve_view), name=f"{info}_approve"),
            path("<path:object_id>/reject/", wrap(message_views.reject_view), name=f"{info}_reject"),
            path("<path:object_id>/cancel/", wrap(message_views.cancel_view), name=f"{info}_cancel"),
            path("<path:object_id>/retract/", wrap(message_views.retract_view), name=f"{info}_retract"),
            path(
                "<path:object_id>/language-confirm/",
                wrap(language_views.language_confirm_view),
                name=f"{info}_language_confirm",
            ),
            *super().get_urls(),
        ]


admin.site.register(Message, MessageAdmin)


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


class ReadOnlyAdmin(admin.ModelAdmin):
    """Written only through the message page's services: shown here for lookup and audit."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Variant)
class VariantAdmin(ReadOnlyAdmin):
    list_display = ("message", "language", "short_text", "link")
    list_filter = ("language",)
    list_select_related = ("message",)
    search_fields = ("text", "message__title")

    @admin.display(description=_("text"))
    def short_text(self, obj: Variant) -> str:
        return obj.text[:80]


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdmin):
    list_display = ("message", "language", "format", "width", "height", "alt_fr", "alt_nl", "created_at")
    list_filter = ("language", "format")
    list_select_related = ("message",)
    search_fields = ("message__title", "alt_fr", "alt_nl", "alt_de", "sha256")


@admin.register(Occurrence)
class OccurrenceAdmin(ReadOnlyAdmin):
    list_display = ("message", "due_at", "created_at")
    list_filter = ("message__state",)
    list_select_related = ("message",)
    search_fields = ("message__title",)
    date_hierarchy = "due_at"


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnlyAdmin):
    list_display = ("delivery", "started_at", "outcome", "http_status", "duration_ms")
    list_filter = ("outcome",)
    search_fields = ("error", "delivery__channel__name")


admin.site.site_header = _("Tandem — bilingual publishing")
admin.site.site_title = _("Tandem")
admin.site.index_title = _("Publishing")
