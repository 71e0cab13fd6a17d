from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import csrf_protect_m
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _
from django_q import models as q_models

from accounts.models import User
from publisher.channels import registry
from publisher.channels import services as channel_services
from publisher.channels.base import ChannelError
from publisher.delivery import publishing
from publisher.errors import ValidationError
from publisher.models import (
    ATTEMPT_OUTCOMES,
    AUDIT_VERBS,
    Attachment,
    AuditEvent,
    Channel,
    Delivery,
    DeliveryAttempt,
    DeliveryState,
    InboxItem,
    Message,
    MessageTemplate,
    Municipality,
    Occurrence,
    PoliceZone,
    Province,
    Segment,
    Variant,
)
from publisher.pagination import EstimatedCountPaginator
from publisher.templatetags import tandem_admin
from publisher.territory import selectors
from publisher.views import boosts as boost_views
from publisher.views import calendar as calendar_views
from publisher.views import connect as connect_views
from publisher.views import engagement as engagement_views
from publisher.views import home, language, language_guard, lists, preview
from publisher.views import inbox as inbox_views
from publisher.views import message_templates as template_views
from publisher.views import messages as message_views
from publisher.workflow import catalogue, message_templates


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


class FixedChoicesFilter(admin.SimpleListFilter):
    """A filter on a text column offering a fixed list: the default lists the values present
    with SELECT DISTINCT over the whole table, on every view, which a year of history makes slow."""

    field = ""

    def choices_list(self) -> list[tuple[str, str]]:
        raise NotImplementedError

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return self.choices_list()

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(**{self.field: self.value()}) if self.value() else queryset


class ChannelForm(forms.ModelForm):
    # Only kinds with an installed adapter can be chosen.
    kind = forms.ChoiceField(label=gettext_lazy("kind"), choices=lambda: registry.kind_choices())

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


class ChannelKindFilter(FixedChoicesFilter):
    title = _("kind")
    parameter_name = field = "kind"

    def choices_list(self) -> list[tuple[str, str]]:
        return registry.kind_choices()


@admin.register(Channel)
class ChannelAdmin(ServiceSaveMixin, admin.ModelAdmin):
    form = ChannelForm
    list_display = ("name", "kind_label", "language", "covers_all", "enabled", "needs_reconnect")
    list_filter = (ChannelKindFilter, "language", "enabled", "needs_reconnect", "covers_all")
    search_fields = ("name",)
    autocomplete_fields = ("municipalities",)
    readonly_fields = ("needs_reconnect", "needs_reconnect_reason")
    actions = ["mark_reconnected", "refresh_limits"]

    def get_urls(self) -> list[URLPattern]:
        def wrap(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
            def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
                return view(self, request, *args, **kwargs)

            return self.admin_site.admin_view(wrapper)

        info = "publisher_channel"
        return [
            # Before the <path:object_id> patterns: these paths have no channel id.
            path("connect/oauth/callback/", wrap(connect_views.oauth_callback_view), name=f"{info}_oauth_callback"),
            path("connect/oauth/pages/<str:key>/", wrap(connect_views.oauth_pages_view), name=f"{info}_oauth_pages"),
            path(
                "<path:object_id>/connect/<slug:flow>/",
                wrap(connect_views.connect_view),
                name=f"{info}_connect",
            ),
            path("<path:object_id>/disconnect/", wrap(connect_views.disconnect_view), name=f"{info}_disconnect"),
            path("<path:object_id>/rotate/", wrap(connect_views.webhook_rotate_view), name=f"{info}_rotate"),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        channel = (
            Channel.objects.select_related("credential__connected_by").filter(pk=object_id).first()
            if str(object_id).isdigit()
            else None
        )
        if channel is not None:
            extra_context = {**(extra_context or {}), "connection": connect_views.connection_context(channel)}
        return super().change_view(request, object_id, form_url, extra_context)

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

    @admin.display(description=_("kind"), ordering="kind")
    def kind_label(self, obj: Channel) -> str:
        return registry.kind_label(obj.kind)

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


def _short_time(moment: Any) -> str:
    return date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT") if moment else "—"


class MessageAdmin(admin.ModelAdmin):
    """The compose and approve workflow: add and change views are the message page
    (publisher/views/messages.py); every write goes through the workflow services."""

    # Fits beside the navigation and the filters at 1,280 px (short Brussels times; the
    # exercise status is a filter).
    list_display = ("title", "author", "state", "urgency", "publish", "updated")
    # A date filter rather than a date hierarchy: the hierarchy lists the years (then months)
    # present by scanning every message on each page view, which a year of history makes slow.
    list_filter = ("state", "urgency", "status", "kind", "created_at")
    list_select_related = ("author",)
    search_fields = ("title", "variants__text")
    # One COUNT per page at most (the paginator's, estimated on a big unfiltered table), not a
    # second one for "N total": the history makes counting every message slow.
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    # The related admins' search backs the audience pickers' autocomplete.
    autocomplete_fields = ("audience_municipalities", "audience_zones", "audience_provinces", "audience_segments")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a message is cancelled or retracted, never deleted: the audit trail needs it

    @admin.display(description=_("publish at"), ordering="publish_at")
    def publish(self, obj: Message) -> str:
        return _short_time(obj.publish_at)

    @admin.display(description=_("updated"), ordering="updated_at")
    def updated(self, obj: Message) -> str:
        return _short_time(obj.updated_at)

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
            # Before the "<path:object_id>/approve/" routes, which would take "boosts/1" as an id.
            path("boosts/<int:boost_id>/approve/", wrap(boost_views.boost_approve_view), name=f"{info}_boost_approve"),
            path("boosts/<int:boost_id>/stop/", wrap(boost_views.boost_stop_view), name=f"{info}_boost_stop"),
            path("expired/", wrap(lists.expired_view), name=f"{info}_expired"),
            path("calendar/", wrap(calendar_views.calendar_view), name=f"{info}_calendar"),
            path("engagement/", wrap(engagement_views.report_view), name=f"{info}_engagement"),
            path("calendar/link/", wrap(calendar_views.calendar_link_view), name=f"{info}_calendar_link"),
            # Calendar clients cannot log in: the feed's secret token is its credential.
            path("calendar/<str:token>.ics", public(calendar_views.ical_view), name=f"{info}_ical"),
            path(
                "home/deliveries/<int:delivery_id>/<str:decision>/",
                wrap(home.delivery_decision_view),
                name=f"{info}_delivery_decision",
            ),
            path("preview/audience/", wrap(preview.audience_view), name=f"{info}_preview_audience"),
            path("preview/schedule/", wrap(preview.schedule_view), name=f"{info}_preview_schedule"),
            path("preview/cards/", wrap(preview.cards_view), name=f"{info}_preview_cards"),
            path("preview/language/", wrap(language.findings_view), name=f"{info}_preview_language"),
            path("<path:object_id>/submit/", wrap(message_views.submit_view), name=f"{info}_submit"),
            path("<path:object_id>/approve/", wrap(message_views.approve_view), name=f"{info}_approve"),
            path("<path:object_id>/reject/", wrap(message_views.reject_view), name=f"{info}_reject"),
            path("<path:object_id>/cancel/", wrap(message_views.cancel_view), name=f"{info}_cancel"),
            path("<path:object_id>/retract/", wrap(message_views.retract_view), name=f"{info}_retract"),
            path(
                "<path:object_id>/follow-up/<str:kind>/",
                wrap(message_views.follow_up_view),
                name=f"{info}_follow_up",
            ),
            path("<path:object_id>/duplicate/", wrap(message_views.duplicate_view), name=f"{info}_duplicate"),
            path("template/", wrap(template_views.template_choose_view), name=f"{info}_template_choose"),
            path(
                "template/<str:template_id>/",
                wrap(template_views.template_start_view),
                name=f"{info}_template_start",
            ),
            path("<path:object_id>/reviewed/", wrap(home.alert_reviewed_view), name=f"{info}_alert_reviewed"),
            path("<path:object_id>/boost/", wrap(boost_views.boost_propose_view), name=f"{info}_boost"),
            path(
                "<path:object_id>/witness-appeal/",
                wrap(inbox_views.witness_appeal_view),
                name=f"{info}_witness_appeal",
            ),
            path(
                "<path:object_id>/language-confirm/",
                wrap(language_guard.language_confirm_view),
                name=f"{info}_language_confirm",
            ),
            *super().get_urls(),
        ]


admin.site.register(Message, MessageAdmin)


class MessageTemplateForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = ("name_fr", "name_nl", "slug", "title_fr", "title_nl", "text_fr", "text_nl", "active", "position")
        widgets = {
            **{name: forms.TextInput({"class": "vLargeTextField"}) for name in ("name_fr", "name_nl")},
            **{name: forms.TextInput({"class": "vLargeTextField"}) for name in ("title_fr", "title_nl")},
            "text_fr": forms.Textarea({"rows": 5, "lang": "fr"}),
            "text_nl": forms.Textarea({"rows": 5, "lang": "nl"}),
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # The service checks again when saving; here its errors land at their field.
        try:
            message_templates.template_validate(data)
        except ValidationError as exc:
            for key, problems in exc.message_dict.items():
                for problem in problems:
                    if key in self.fields and key not in self.errors:
                        self.add_error(key, problem)
                    elif key not in self.fields:
                        self.add_error(None, problem)
        return data


@admin.register(MessageTemplate)
class MessageTemplateAdmin(ServiceSaveMixin, admin.ModelAdmin):
    """Kept by administrators (the model's permissions); authors start from the active ones on
    the compose page without seeing this list."""

    form = MessageTemplateForm
    # A handful of rows: no filter sidebar, so the placeholders have room at 1,280 px.
    list_display = ("name_fr", "name_nl", "placeholders", "active")
    search_fields = ("name_fr", "name_nl", "text_fr", "text_nl")
    fields = ("name_fr", "name_nl", "slug", "title_fr", "title_nl", "text_fr", "text_nl", "active", "position")
    prepopulated_fields = {"slug": ("name_fr",)}

    @admin.display(description=_("placeholders"))
    def placeholders(self, obj: MessageTemplate) -> str:
        lines = [
            (language.upper(), ", ".join(names))
            for language, names in message_templates.template_placeholders(obj).items()
            if names
        ]
        return format_html_join(mark_safe("<br>"), "<strong>{}</strong> {}", lines) or "—"

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        # Examples in the text's own language, whatever the reader's.
        for name, examples in (("text_fr", "{lieu}, {date}"), ("text_nl", "{plaats}, {datum}")):
            form.base_fields[name].help_text = _(
                "Placeholders are words in braces, written in this text's language, e.g. %(examples)s: "
                "the author fills each one in when starting a message from the template."
            ) % {"examples": examples}
        return form

    def save_through_service(self, request: HttpRequest, obj: Any, data: dict[str, Any], change: bool) -> Any:
        fields = {key: data.get(key) for key in self.fields}
        if change:
            return message_templates.template_update(template=obj, actor=_staff(request), **fields)
        return message_templates.template_create(actor=_staff(request), **fields)

    def delete_model(self, request: HttpRequest, obj: MessageTemplate) -> None:
        message_templates.template_delete(template=obj, actor=_staff(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[MessageTemplate]) -> None:
        for template in queryset:
            message_templates.template_delete(template=template, actor=_staff(request))


@admin.display(description=_("message"), ordering="message")
def message_label(obj: Any) -> str:
    return str(obj.message)


@admin.display(description=_("occurrence"), ordering="occurrence")
def occurrence_label(obj: Any) -> str:
    return str(obj.occurrence)


@admin.display(description=_("delivery"), ordering="delivery")
def delivery_label(obj: Any) -> str:
    return str(obj.delivery)


class ForeignKeyLabelsMixin:
    """These foreign keys have no verbose_name, so Django labels them with the bare field name,
    in English ("Message"); show them under their model's translated name."""

    LABELS: dict[str, Any] = {"message": message_label, "occurrence": occurrence_label, "delivery": delivery_label}

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # These admins are view-only: Django shows every field read-only, callables included.
        fields = super().get_fields(request, obj)  # type: ignore[misc]
        return list(dict.fromkeys(self.LABELS.get(f, f) if isinstance(f, str) else f for f in fields))


@admin.display(description=_("outcome"), ordering="outcome")
def outcome_label(obj: DeliveryAttempt) -> str:
    return obj.outcome_label


class AttemptOutcomeFilter(FixedChoicesFilter):
    title = _("outcome")
    parameter_name = field = "outcome"

    def choices_list(self) -> list[tuple[str, str]]:
        return [(code, str(label)) for code, label in ATTEMPT_OUTCOMES.items()]


class AuditVerbFilter(FixedChoicesFilter):
    title = _("action")
    parameter_name = field = "verb"

    def choices_list(self) -> list[tuple[str, str]]:
        return [(verb, str(label)) for verb, label in AUDIT_VERBS.items()]


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ("started_at", "finished_at", "outcome_in_words", "http_status", "error", "duration_ms")
    readonly_fields = fields

    @admin.display(description=_("outcome"))
    def outcome_in_words(self, obj: DeliveryAttempt) -> str:
        return obj.outcome_label


class AdministratorsOnlyInIndex:
    """Technical models: listed in the index and navigation for administrators only (their
    pages still answer whoever holds the view permission, e.g. from a link)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)


@admin.register(Delivery)
class DeliveryAdmin(ForeignKeyLabelsMixin, admin.ModelAdmin):
    # Fits beside the navigation and the filters at 1,280 px: the channel names its language,
    # times are short (Brussels), the sending time links to the post; attempts are on the
    # delivery's own page.
    list_display = ("message_title", "channel", "state", "due", "sent")
    list_filter = ("state", "language", "channel")
    list_select_related = ("channel", "occurrence__message")
    search_fields = ("occurrence__message__title", "channel__name")
    # Newest first from the primary key: ordering a year of deliveries by due time sorts them all.
    ordering = ("-id",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    inlines = [DeliveryAttemptInline]

    @admin.display(description=_("message"), ordering="occurrence__message__title")
    def message_title(self, obj: Delivery) -> str:
        return obj.occurrence.message.title

    @admin.display(description=_("due at"), ordering="due_at")
    def due(self, obj: Delivery) -> str:
        return _short_time(obj.due_at)

    @admin.display(description=_("sent at"), ordering="sent_at")
    def sent(self, obj: Delivery) -> str:
        if not obj.sent_at:
            return "—"
        when = _short_time(obj.sent_at)
        # A retracted post's address leads nowhere (the outbox file is deleted too).
        if not obj.remote_url or obj.state != DeliveryState.SENT:
            return when
        # The address itself made the list wider than the page: it shows on hover.
        return format_html(
            '<a href="{}" title="{}" rel="noopener noreferrer">{}</a>', obj.remote_url, obj.remote_url, when
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    # Verbs, object types and detail keys are codes: shown in words, in the reader's language.
    list_display = ("created_at", "actor", "actor_in_words", "verb_label", "object_label")
    list_select_related = ("actor",)
    # Fixed verbs and a date filter: the defaults (the verbs and object types present, a date
    # hierarchy) scan every event on each view. The verb names the object type ("message.…").
    list_filter = (AuditVerbFilter, "created_at")
    search_fields = ("object_id", "actor_label", "verb")
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    fields = ("created_at", "actor", "actor_in_words", "verb_label", "object_label", "details")
    readonly_fields = fields

    @admin.display(description=_("actor label"), ordering="actor_label")
    def actor_in_words(self, obj: AuditEvent) -> str:
        return tandem_admin.audit_actor(obj.actor_label)

    @admin.display(description=_("action"), ordering="verb")
    def verb_label(self, obj: AuditEvent) -> str:
        return tandem_admin.audit_verb(obj.verb)

    @admin.display(description=_("object"))
    def object_label(self, obj: AuditEvent) -> str:
        return tandem_admin.audit_object(obj)

    @admin.display(description=_("details"))
    def details(self, obj: AuditEvent) -> str:
        return format_html_join(mark_safe("<br>"), "<em>{}</em>: {}", tandem_admin.audit_details(obj)) or "—"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(ForeignKeyLabelsMixin, admin.ModelAdmin):
    """Written only through the message page's services: shown here for lookup and audit."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Variant)
class VariantAdmin(AdministratorsOnlyInIndex, ReadOnlyAdmin):
    list_display = (message_label, "language", "short_text", "link")
    list_filter = ("language",)
    list_select_related = ("message",)
    search_fields = ("text", "message__title")

    @admin.display(description=_("text"))
    def short_text(self, obj: Variant) -> str:
        return obj.text[:80]


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdmin):
    list_display = (message_label, "language", "format", "width", "height", "alt_fr", "alt_nl", "created_at")
    list_filter = ("language", "format")
    list_select_related = ("message",)
    search_fields = ("message__title", "alt_fr", "alt_nl", "alt_de", "sha256")


@admin.register(Occurrence)
class OccurrenceAdmin(AdministratorsOnlyInIndex, ReadOnlyAdmin):
    list_display = (message_label, "due_at", "created_at")
    list_filter = ("message__state", "due_at")
    list_select_related = ("message",)
    search_fields = ("message__title",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(AdministratorsOnlyInIndex, ReadOnlyAdmin):
    LABELS = {**ReadOnlyAdmin.LABELS, "outcome": outcome_label}
    list_display = (delivery_label, "started_at", outcome_label, "http_status", "duration_ms")
    list_select_related = ("delivery",)
    list_filter = (AttemptOutcomeFilter,)
    search_fields = ("error", "delivery__channel__name")
    ordering = ("-id",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator


@admin.register(InboxItem)
class InboxItemAdmin(admin.ModelAdmin):
    """The team inbox (publisher/views/inbox.py): only for users with the inbox permission;
    every write goes through publisher.workflow.inbox."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.has_perm("publisher.use_inbox"))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # items go with the retention period (inbox_prune), never by hand

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        return inbox_views.inbox_view(self, request)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        return inbox_views.inbox_view(self, request)

    def get_urls(self) -> list[URLPattern]:
        def wrap(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
            def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
                return view(self, request, *args, **kwargs)

            return self.admin_site.admin_view(wrapper)

        info = "publisher_inboxitem"
        return [
            path("export/", wrap(inbox_views.export_view), name=f"{info}_export"),
            path("<int:item_id>/state/", wrap(inbox_views.state_view), name=f"{info}_state"),
            path("<int:item_id>/reply/", wrap(inbox_views.reply_view), name=f"{info}_reply"),
            path("<int:item_id>/forward/", wrap(inbox_views.forward_view), name=f"{info}_forward"),
            path("<int:item_id>/draft/", wrap(inbox_views.draft_view), name=f"{info}_draft"),
            path("replies/<int:reply_id>/approve/", wrap(inbox_views.reply_approve_view), name=f"{info}_approve"),
            *super().get_urls(),
        ]


def _technical_admins_for_administrators() -> None:
    """django-q2's task lists are for administrators: out of everyone else's index."""
    for model in (q_models.Success, q_models.Failure, q_models.Schedule, q_models.OrmQ):
        if admin.site.is_registered(model):
            current = type(admin.site.get_model_admin(model))
            admin.site.unregister(model)
            admin.site.register(model, type(current.__name__, (AdministratorsOnlyInIndex, current), {}))


_technical_admins_for_administrators()

admin.site.site_header = _("Tandem — bilingual publishing")
admin.site.site_title = _("Tandem")
admin.site.index_title = _("Publishing")
