"""Forms of the compose and approve pages. They validate input and save through the
services only: one transaction per save, so a refused save never leaves half a message."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelectMultiple, get_select2_language
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from publisher.delivery import scheduling
from publisher.errors import ValidationError
from publisher.models import (
    Attachment,
    Language,
    Message,
    MessageStatus,
    Municipality,
    PoliceZone,
    Province,
    Segment,
    Urgency,
    variant_text_validate,
)
from publisher.workflow import attachments, services
from publisher.workflow.checklist import checklist_items

BRUSSELS = ZoneInfo("Europe/Brussels")
LANGUAGES = [Language.FR, Language.NL, Language.DE]
LOCAL_INPUT_FORMAT = "%Y-%m-%dT%H:%M"


# --- Schedule and attachment helpers -------------------------------------------------
# Thin adapters from form input to the scheduling and attachment services.

FOLD_OF_CHOICE = {"summer": 0, "winter": 1}


def local_time_parse(value: str, *, offset_choice: str = "") -> datetime:
    """A Brussels wall-clock time from the form, in UTC (see scheduling.parse_local_time).

    UTC on purpose: the content hash compares times, so one instant is always written the same way.
    """
    return scheduling.parse_local_time(value, fold=FOLD_OF_CHOICE.get(offset_choice))


def recurrence_validate(rule: str, start: datetime) -> None:
    scheduling.recurrence_times(rule, start, limit=1)


def occurrences_next(
    *, publish_at: datetime | None, recurrence: str, recurrence_start: datetime | None, count: int = 10
) -> list[datetime]:
    """The next publication times in Brussels time (09:00 stays 09:00 across DST)."""
    times = scheduling.occurrences_preview(
        publish_at=publish_at, recurrence=recurrence, recurrence_start=recurrence_start, count=count
    )
    return [timezone.localtime(t, BRUSSELS) for t in times]


def attachment_change(*, attachment: Attachment, actor: User, alts: Mapping[str, str], remove: bool) -> None:
    """Edit an image's alt texts or remove it; the message's content hash follows."""
    if remove:
        attachments.attachment_remove(attachment=attachment, actor=actor)
        return
    if all(getattr(attachment, f"alt_{lang}") == text.strip() for lang, text in alts.items()):
        return
    attachments.attachment_alt_update(attachment=attachment, actor=actor, **{f"alt_{k}": v for k, v in alts.items()})


# --- Compose ----------------------------------------------------------------------------


class RecurrencePreset:
    NONE = ""
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    CUSTOM = "custom"

    choices = [
        (NONE, gettext_lazy("Once")),
        (DAILY, gettext_lazy("Every day")),
        (WEEKLY, gettext_lazy("Every week on the chosen days")),
        (MONTHLY, gettext_lazy("Every month")),
        (CUSTOM, gettext_lazy("Custom rule (RRULE)")),
    ]


WEEKDAYS = [
    ("MO", gettext_lazy("Monday")),
    ("TU", gettext_lazy("Tuesday")),
    ("WE", gettext_lazy("Wednesday")),
    ("TH", gettext_lazy("Thursday")),
    ("FR", gettext_lazy("Friday")),
    ("SA", gettext_lazy("Saturday")),
    ("SU", gettext_lazy("Sunday")),
]

OFFSET_CHOICES = [
    ("", gettext_lazy("Not needed")),
    ("summer", gettext_lazy("Summer time (UTC+2), the first time")),
    ("winter", gettext_lazy("Winter time (UTC+1), the second time")),
]


def recurrence_build(preset: str, weekdays: list[str], custom: str) -> str:
    if preset == RecurrencePreset.DAILY:
        return "FREQ=DAILY"
    if preset == RecurrencePreset.WEEKLY:
        return "FREQ=WEEKLY;BYDAY=" + ",".join(weekdays)
    if preset == RecurrencePreset.MONTHLY:
        return "FREQ=MONTHLY"
    if preset == RecurrencePreset.CUSTOM:
        rule = custom.strip()
        return rule[len("RRULE:") :] if rule.upper().startswith("RRULE:") else rule
    return ""


def recurrence_preset_of(rule: str) -> tuple[str, list[str], str]:
    """The preset that produced a stored rule, so the form shows what the author picked."""
    if not rule:
        return RecurrencePreset.NONE, [], ""
    if rule == "FREQ=DAILY":
        return RecurrencePreset.DAILY, [], ""
    if rule == "FREQ=MONTHLY":
        return RecurrencePreset.MONTHLY, [], ""
    if rule.startswith("FREQ=WEEKLY;BYDAY=") and "\n" not in rule:
        days = rule.split("=", 2)[2].split(",")
        if all(d in dict(WEEKDAYS) for d in days):
            return RecurrencePreset.WEEKLY, days, ""
    return RecurrencePreset.CUSTOM, [], rule


class LocalizedAutocompleteSelectMultiple(AutocompleteSelectMultiple):
    """Django picks select2's language when the widget is built; this form's widgets are built
    once at import, in English, so select2 said "No results found" to every reader. Pick it
    when the page is rendered, in the reader's language."""

    @property
    def i18n_name(self) -> str | None:
        return get_select2_language()

    @i18n_name.setter
    def i18n_name(self, value: str | None) -> None:
        return None  # set by Django's __init__ at import time: ignored


def _autocomplete(field_name: str) -> AutocompleteSelectMultiple:
    return LocalizedAutocompleteSelectMultiple(
        Message._meta.get_field(field_name), admin.site, attrs={"style": "width: 100%"}
    )


class ComposeForm(forms.Form):
    """One message: FR and NL side by side (DE when needed), audience, time, images."""

    title = forms.CharField(label=gettext_lazy("Internal title"), max_length=200)
    urgency = forms.ChoiceField(label=gettext_lazy("Urgency"), choices=Urgency.choices, initial=Urgency.ROUTINE)
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        choices=MessageStatus.choices,
        initial=MessageStatus.ACTUAL,
        help_text=gettext_lazy("An exercise runs the whole flow without sending anything."),
    )

    text_fr = forms.CharField(
        label=gettext_lazy("French text"),
        required=False,
        widget=forms.Textarea({"rows": 7}),
        validators=[variant_text_validate],
    )
    link_fr = forms.URLField(label=gettext_lazy("Link (French)"), required=False, assume_scheme="https")
    text_nl = forms.CharField(
        label=gettext_lazy("Dutch text"),
        required=False,
        widget=forms.Textarea({"rows": 7}),
        validators=[variant_text_validate],
    )
    link_nl = forms.URLField(label=gettext_lazy("Link (Dutch)"), required=False, assume_scheme="https")
    text_de = forms.CharField(
        label=gettext_lazy("German text"),
        required=False,
        widget=forms.Textarea({"rows": 5}),
        validators=[variant_text_validate],
    )
    link_de = forms.URLField(label=gettext_lazy("Link (German)"), required=False, assume_scheme="https")

    audience_all = forms.BooleanField(label=gettext_lazy("All of Belgium"), required=False)
    audience_municipalities = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Municipalities"),
        queryset=Municipality.objects.all(),
        required=False,
        widget=_autocomplete("audience_municipalities"),
        help_text=gettext_lazy("Search by name in French or Dutch, NIS code or postal code."),
    )
    audience_zones = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Police zones"),
        queryset=PoliceZone.objects.all(),
        required=False,
        widget=_autocomplete("audience_zones"),
    )
    audience_provinces = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Provinces"),
        queryset=Province.objects.all(),
        required=False,
        widget=_autocomplete("audience_provinces"),
    )
    audience_segments = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Segments"),
        queryset=Segment.objects.all(),
        required=False,
        widget=_autocomplete("audience_segments"),
    )

    first_time = forms.CharField(
        label=gettext_lazy("Publication time (Brussels)"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=gettext_lazy("Leave empty to publish as soon as it is approved."),
    )
    time_offset = forms.ChoiceField(
        label=gettext_lazy("If that time happens twice (clocks go back)"), choices=OFFSET_CHOICES, required=False
    )
    recurrence_preset = forms.ChoiceField(
        label=gettext_lazy("Repeat"), choices=RecurrencePreset.choices, required=False
    )
    recurrence_days = forms.MultipleChoiceField(
        label=gettext_lazy("On"), choices=WEEKDAYS, required=False, widget=forms.CheckboxSelectMultiple
    )
    recurrence_custom = forms.CharField(
        label=gettext_lazy("Custom rule"),
        required=False,
        help_text=gettext_lazy("RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=MO;COUNT=8"),
    )

    image = forms.ImageField(label=gettext_lazy("Add an image"), required=False)
    image_alt_fr = forms.CharField(label=gettext_lazy("Alt text (French)"), required=False)
    image_alt_nl = forms.CharField(label=gettext_lazy("Alt text (Dutch)"), required=False)
    image_alt_de = forms.CharField(label=gettext_lazy("Alt text (German)"), required=False)
    image_language = forms.ChoiceField(
        label=gettext_lazy("Only for language"),
        choices=[("", gettext_lazy("All variants")), *Language.choices],
        required=False,
    )

    def __init__(self, *args: Any, message: Message | None = None, **kwargs: Any) -> None:
        self.message = message
        if message is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_from(message)
        super().__init__(*args, **kwargs)
        self.attachments = list(message.attachments.all()) if message is not None else []
        for attachment in self.attachments:
            for lang, name in Language.choices:
                self.fields[f"att{attachment.pk}_alt_{lang}"] = forms.CharField(
                    label=_("Alt text (%(language)s)") % {"language": name},
                    required=False,
                    initial=attachment.alt_for(lang),
                )
            self.fields[f"att{attachment.pk}_remove"] = forms.BooleanField(label=_("Remove this image"), required=False)

    @staticmethod
    def initial_from(message: Message) -> dict[str, Any]:
        variants = {v.language: v for v in message.variants.all()}
        preset, days, custom = recurrence_preset_of(message.recurrence)
        first = message.recurrence_start if message.recurrence else message.publish_at
        initial: dict[str, Any] = {
            "title": message.title,
            "urgency": message.urgency,
            "status": message.status,
            "audience_all": message.audience_all,
            "audience_municipalities": list(message.audience_municipalities.all()),
            "audience_zones": list(message.audience_zones.all()),
            "audience_provinces": list(message.audience_provinces.all()),
            "audience_segments": list(message.audience_segments.all()),
            "first_time": timezone.localtime(first, BRUSSELS).strftime(LOCAL_INPUT_FORMAT) if first else "",
            "recurrence_preset": preset,
            "recurrence_days": days,
            "recurrence_custom": custom,
        }
        for lang in LANGUAGES:
            if lang in variants:
                initial[f"text_{lang}"] = variants[lang].text
                initial[f"link_{lang}"] = variants[lang].link
        return initial

    def attachment_rows(self) -> list[dict[str, Any]]:
        """Existing images with their bound fields, for the template."""
        return [
            {
                "attachment": a,
                "alts": [self[f"att{a.pk}_alt_{lang}"] for lang in LANGUAGES],
                "remove": self[f"att{a.pk}_remove"],
            }
            for a in self.attachments
        ]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        preset = data.get("recurrence_preset") or ""
        if preset == RecurrencePreset.WEEKLY and not data.get("recurrence_days"):
            self.add_error("recurrence_days", _("Choose at least one day of the week."))
        if preset == RecurrencePreset.CUSTOM and not (data.get("recurrence_custom") or "").strip():
            self.add_error("recurrence_custom", _("Enter the rule, or choose a preset."))
        when: datetime | None = None
        if data.get("first_time"):
            try:
                when = local_time_parse(data["first_time"], offset_choice=data.get("time_offset") or "")
            except ValidationError as exc:
                self.add_error("first_time", exc)
        if preset and when is None and "first_time" not in self.errors:
            self.add_error("first_time", _("A repeated message needs the time of its first publication."))
        rule = recurrence_build(preset, data.get("recurrence_days") or [], data.get("recurrence_custom") or "")
        if rule and when is not None:
            try:
                recurrence_validate(rule, when)
            except ValidationError as exc:
                self.add_error("recurrence_custom" if preset == RecurrencePreset.CUSTOM else "recurrence_preset", exc)
        if when is not None and when < timezone.now() and self.message_time_changed(when, rule):
            self.add_error("first_time", _("This time is in the past."))
        data["publish_at"] = when if not rule else None
        data["recurrence"] = rule
        data["recurrence_start"] = when if rule else None
        if data.get("image") and not any((data.get(f"image_alt_{lang}") or "").strip() for lang in LANGUAGES):
            self.add_error("image_alt_fr", _("Describe the image for people who cannot see it (alt text)."))
        return data

    def message_time_changed(self, when: datetime, rule: str) -> bool:
        if self.message is None:
            return True
        stored = self.message.recurrence_start if self.message.recurrence else self.message.publish_at
        return stored != when or self.message.recurrence != rule

    def variants(self) -> dict[str, services.VariantInput]:
        return {
            lang: services.VariantInput(self.cleaned_data[f"text_{lang}"], self.cleaned_data[f"link_{lang}"] or "")
            for lang in LANGUAGES
            if (self.cleaned_data.get(f"text_{lang}") or "").strip()
        }

    def audience(self) -> services.Audience:
        data = self.cleaned_data
        return services.Audience(
            municipalities=[m.pk for m in data["audience_municipalities"]],
            zones=[z.pk for z in data["audience_zones"]],
            provinces=[p.pk for p in data["audience_provinces"]],
            segments=[s.pk for s in data["audience_segments"]],
            all=bool(data["audience_all"]),
        )

    # Service error keys → form fields, so each error shows where it belongs.
    ERROR_FIELDS = {
        "title": "title",
        "audience": "audience_municipalities",
        "municipalities": "audience_municipalities",
        "zones": "audience_zones",
        "provinces": "audience_provinces",
        "segments": "audience_segments",
        "variants.fr": "text_fr",
        "variants.nl": "text_nl",
        "variants.de": "text_de",
        "publish_at": "first_time",
        "recurrence": "recurrence_custom",
        "recurrence_start": "first_time",
        "image": "image",
        "alt_fr": "image_alt_fr",
        "alt_nl": "image_alt_nl",
        "alt_de": "image_alt_de",
    }

    def add_service_error(self, error: ValidationError) -> None:
        if hasattr(error, "error_dict"):
            for key, errors in error.error_dict.items():
                field = self.ERROR_FIELDS.get(key)
                self.add_error(field if field in self.fields else None, errors)
        else:
            self.add_error(None, error)

    def save(self, *, actor: User) -> Message | None:
        """Create or update the message and its images in one transaction; None when refused."""
        data = self.cleaned_data
        variants = self.variants()
        if not variants:
            self.add_error("text_fr", _("Write at least one variant."))
            return None
        try:
            with transaction.atomic():
                if self.message is None:
                    message = services.message_create(
                        author=actor,
                        title=data["title"],
                        variants=variants,
                        audience=self.audience(),
                        urgency=data["urgency"],
                        status=data["status"],
                        schedule=services.Schedule(
                            publish_at=data["publish_at"],
                            recurrence=data["recurrence"],
                            recurrence_start=data["recurrence_start"],
                        ),
                    )
                else:
                    message = services.message_update(
                        message=self.message,
                        actor=actor,
                        title=data["title"],
                        variants=variants,
                        audience=self.audience(),
                        urgency=data["urgency"],
                        status=data["status"],
                        schedule=services.Schedule(
                            publish_at=data["publish_at"],
                            recurrence=data["recurrence"],
                            recurrence_start=data["recurrence_start"],
                        ),
                    )
                for attachment in self.attachments:
                    attachment_change(
                        attachment=attachment,
                        actor=actor,
                        alts={lang: data.get(f"att{attachment.pk}_alt_{lang}") or "" for lang in LANGUAGES},
                        remove=bool(data.get(f"att{attachment.pk}_remove")),
                    )
                if data.get("image"):
                    attachments.attachment_add(
                        message=message,
                        actor=actor,
                        file=data["image"],
                        alt_fr=data.get("image_alt_fr") or "",
                        alt_nl=data.get("image_alt_nl") or "",
                        alt_de=data.get("image_alt_de") or "",
                        language=data.get("image_language") or "",
                    )
        except ValidationError as exc:
            self.add_service_error(exc)
            return None
        message.refresh_from_db()
        return message


# --- Workflow actions -------------------------------------------------------------------


class ApproveForm(forms.Form):
    """The legal checklist, built from settings, plus an optional comment."""

    comment = forms.CharField(
        label=gettext_lazy("Comment (optional)"), required=False, widget=forms.Textarea({"rows": 2})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.items = checklist_items()
        for item in self.items:
            self.fields[item.key] = forms.BooleanField(label=item.label, required=False)
            if item.reference_if:
                self.fields[f"{item.key}_applies"] = forms.BooleanField(label=item.reference_if, required=False)
                self.fields[f"{item.key}_reference"] = forms.CharField(
                    label=item.reference_label, required=False, max_length=200
                )

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "tick": self[item.key],
                "applies": self[f"{item.key}_applies"] if item.reference_if else None,
                "reference": self[f"{item.key}_reference"] if item.reference_if else None,
            }
            for item in self.items
        ]

    def answers(self) -> dict[str, Any]:
        return {name: value for name, value in self.cleaned_data.items() if name != "comment"}


class RejectForm(forms.Form):
    comment = forms.CharField(
        label=gettext_lazy("Why is it rejected?"), widget=forms.Textarea({"rows": 3}), required=True
    )


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why cancel it? (optional)"), widget=forms.Textarea({"rows": 2}), required=False
    )


class RetractForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why retract it? (kept in the audit trail)"), widget=forms.Textarea({"rows": 2})
    )
